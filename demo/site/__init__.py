"""The built-in demo website: a small story site plus a SearXNG-compatible search endpoint on
127.0.0.1, which the default `python run.py` profile searches, fetches and extracts, offline.

    from demo.site import DemoSite
    with DemoSite(stories=40, seed=1234) as site:
        print(site.base_url, site.expected()["js_only"])

Browse it: `python -m demo.site --port 8000`. Layout of the package: content.py (which story goes where),
texts.py (the hand-written words), pages.py and shells.py (HTML), endpoints.py (search, robots, sitemaps),
server.py (DemoSite).
"""

from demo.site.server import DemoSite

__all__ = ["DemoSite"]
