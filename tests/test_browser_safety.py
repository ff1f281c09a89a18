"""The headless browser under the private-address guard: redirects and script requests never reach 127.0.0.2.

Chromium does not route its own redirects through Playwright, so a page (or a script's fetch) that redirects to
a private address would be followed unchecked if Chromium fetched anything itself; here every request goes
through the guarded session, and a redirect comes back to the page as a new, checked request.
"""

import json

import pytest

from scraper.fetch.browser import BrowserRenderer
from scraper.fetch.errors import FetchFailed
from scraper.fetch.safety import SafetyCheck
from tests.test_fetch_browser import needs_chromium
from tests.test_fetch_site import Site, long_story, test_config
from tests.test_url_safety import SECRET, SecretServer, local_is_public  # noqa: F401  (fixture)


def page_with_requests(port: int) -> str:
    targets = [f"http://127.0.0.2:{port}/direct", "/redir", f"http://2130706434:{port}/decimal"]
    calls = "".join(f"fetch({json.dumps(t)}).then(r => r.text()).then(t => {{document.getElementById('leak')"
                    f".textContent += t;}}).catch(() => {{}});" for t in targets)
    return ("<!doctype html><html><body><div id='root'></div><div id='leak'></div><script>"
            "fetch('/story.json').then(r => r.json()).then(d => {document.getElementById('root').innerHTML = "
            "'<article>' + d.paras.map(p => '<p>' + p + '</p>').join('') + '</article>';});"
            + calls + "</script></body></html>")


@needs_chromium
def test_browser_never_follows_redirects_or_requests_to_private_addresses(local_is_public):
    with Site() as site, SecretServer(site.port) as secret:
        site.page("/page", page_with_requests(site.port))
        site.page("/story.json", json.dumps({"paras": long_story("Kai", 3)}),
                  headers={"Content-Type": "application/json"})
        site.page("/redir", "", status=302, headers={"Location": f"http://127.0.0.2:{site.port}/via-redirect"})
        site.page("/go", "", status=302, headers={"Location": f"http://127.0.0.2:{site.port}/navigation"})
        cfg = test_config(allow_private_hosts=False)
        renderer = BrowserRenderer(cfg, allowed=SafetyCheck(False).allowed)
        try:
            page = renderer.render(site.url("/page"))
            assert "<p>Kai walked" in page.html  # allowed requests still work, through our session
            with pytest.raises(FetchFailed):
                renderer.render(site.url("/go"))  # a navigation that redirects to a private address
            site.page("/hop", "", status=301, headers={"Location": "/page"})
            moved = renderer.render(site.url("/hop"))  # a redirect to an allowed page is followed
            assert moved.final_url == site.url("/page") and moved.http_status == 200
            assert "<p>Kai walked" in moved.html
        finally:
            renderer.close()
        assert secret.hits == []
        assert site.hits("/redir") >= 1  # the script's redirecting request was made, and stopped at the hop
        assert SECRET not in page.html and 'id="leak"></div>' in page.html
