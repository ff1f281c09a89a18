"""The built-in demo website (demo/site): a real HTTP server on 127.0.0.1, its pages, its robots.txt,
sitemaps and SearXNG-compatible search endpoint, and the ground truth it reports for end-to-end tests.

Everything goes over real sockets to servers these tests start on 127.0.0.1 (ephemeral ports); nothing else is
contacted. Story texts come from the demo generator, or from stories written below where a test needs text that
must be escaped.
"""

import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from types import SimpleNamespace
from urllib.parse import urlsplit
from urllib.robotparser import RobotFileParser

import pytest

from common.paths import REPO_ROOT
from demo.site import DemoSite
from demo.site.content import MIN_STORIES

SM = "{http://www.sitemaps.org/schemas/sitemap/0.9}"


def request(url: str, method: str = "GET", timeout: float = 10) -> tuple[int, dict, bytes]:
    """(status, headers with lower-case names, body) of one request; never follows redirects."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    try:
        conn.request(method, parts.path + (f"?{parts.query}" if parts.query else ""))
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()


def html_of(url: str) -> str:
    status, headers, body = request(url)
    assert status == 200, url
    assert headers["content-type"] == "text/html; charset=utf-8"
    return body.decode("utf-8")


class StoryText(HTMLParser):
    """The <p> texts inside the element of class `cls`, and every <link rel=...> and <a rel=...>."""

    def __init__(self, html: str, cls: str = "entry-content"):
        super().__init__()
        self.cls = cls
        self.paragraphs, self.links, self.anchors = [], {}, {}
        self._depth = 0  # > 0 while inside the entry-content element
        self._buf, self._anchor = None, None
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if self._depth:
            self._depth += tag == "div"
        elif tag == "div" and self.cls in (a.get("class") or "").split():
            self._depth = 1
        if self._depth and tag == "p":
            self._buf = []
        if tag == "link" and a.get("rel"):
            self.links[a["rel"]] = a.get("href")
        if tag == "a" and a.get("rel"):
            self._anchor = (a["rel"], a.get("href"), [])

    def handle_endtag(self, tag):
        if tag == "p" and self._buf is not None:
            self.paragraphs.append("".join(self._buf))
            self._buf = None
        if tag == "div" and self._depth:
            self._depth -= 1
        if tag == "a" and self._anchor:
            rel, href, text = self._anchor
            self.anchors[rel] = (href, "".join(text))
            self._anchor = None

    def handle_data(self, data):
        if self._buf is not None:
            self._buf.append(data)
        if self._anchor:
            self._anchor[2].append(data)


def strip_scripts(html: str) -> str:
    return re.sub(r"<script\b.*?</script>", "", html, flags=re.S | re.I)


def search(site: DemoSite, query: str, pageno: int = 1) -> dict:
    status, headers, body = request(f"{site.searxng_base}/search?q={query}&format=json&pageno={pageno}")
    assert status == 200 and headers["content-type"].startswith("application/json")
    return json.loads(body)


@pytest.fixture(scope="module")
def site():
    with DemoSite(stories=24, seed=11, slow_seconds=0) as s:
        yield s


# --- lifecycle ---------------------------------------------------------------------------------------------------
def test_starts_on_ephemeral_port_and_stops_cleanly():
    with DemoSite(stories=MIN_STORIES, seed=3, slow_seconds=0) as a, DemoSite(stories=MIN_STORIES, seed=3) as b:
        port = a.port
        assert port > 0 and port != b.port
        assert a.base_url == f"http://127.0.0.1:{port}"
        assert request(a.base_url + "/")[0] == 200
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    with pytest.raises(RuntimeError):
        a.base_url
    a.stop()  # idempotent
    assert not [t for t in threading.enumerate() if t.name == "demo-site" and t.is_alive()]


def test_binds_loopback_only(site):
    assert site._server.server_address[0] == "127.0.0.1"
    assert urlsplit(site.base_url).hostname == "127.0.0.1"


def test_too_few_stories_is_a_clear_error():
    with pytest.raises(ValueError, match="at least"):
        DemoSite(stories=MIN_STORIES - 1)


# --- search endpoint ---------------------------------------------------------------------------------------------
def test_search_json_shape_and_paging(site):
    truth = site.expected()
    first = search(site, "stories")
    assert set(first) >= {"query", "number_of_results", "results", "answers", "suggestions", "infoboxes"}
    assert first["query"] == "stories" and first["number_of_results"] == len(truth["listed"])
    urls = []
    for pageno in range(1, 20):  # bounded
        results = search(site, "stories", pageno)["results"]
        if not results:
            break
        assert len(results) <= truth["page_size"]
        for r in results:
            assert r["engine"] == "demo" and r["title"] and isinstance(r["content"], str) and r["content"]
        urls += [r["url"] for r in results]
    assert pageno == -(-len(truth["listed"]) // truth["page_size"]) + 1
    assert urls == truth["listed"]
    must_meet = (truth["disallowed"] + truth["app_wall"] + truth["too_short"] + list(truth["foreign"])
                 + list(truth["exact_duplicates"]) + list(truth["near_duplicates"]) + truth["js_only"])
    assert set(must_meet) <= set(urls)
    for dup, orig in {**truth["exact_duplicates"], **truth["near_duplicates"]}.items():
        assert urls.index(orig) < urls.index(dup)  # the original comes first


def test_search_matches_query_words(site):
    truth = site.expected()
    texts = {u: (rec["title"] + " " + rec["text"]).lower() for u, rec in truth["stories"].items()}
    target, rec = next(iter(truth["stories"].items()))
    word = next(w for w in sorted(re.findall(r"[a-z]{5,}", rec["text"].lower()), key=lambda w: (-len(w), w))
                if sum(w in t for t in texts.values()) < len(texts) // 2)
    got = [r["url"] for r in search(site, word)["results"]]
    assert target in got
    assert 0 < len(got) < len(truth["listed"])
    assert all(word in texts[u] for u in got if u in texts)
    assert search(site, "zzqxv")["results"] == []


def test_search_bad_requests_and_html_format(site):
    assert request(site.search_url + "?format=json")[0] == 400
    assert request(site.search_url + "?q=stories&format=json&pageno=0")[0] == 400
    assert request(site.search_url + "?q=stories&format=xml")[0] == 400
    status, headers, body = request(site.search_url + "?q=stories")
    assert status == 200 and headers["content-type"] == "text/html; charset=utf-8" and b"<ol>" in body


# --- robots.txt and sitemaps --------------------------------------------------------------------------------------
def test_robots_txt_disallows_private_area(site):
    truth = site.expected()
    status, headers, body = request(truth["robots_url"])
    assert status == 200 and headers["content-type"] == "text/plain; charset=utf-8"
    text = body.decode()
    assert "User-agent: *\nDisallow: /private/\n" in text
    assert f"Sitemap: {site.base_url}/sitemap_index.xml" in text
    rp = RobotFileParser()
    rp.parse(text.splitlines())
    assert truth["disallowed"] and all(not rp.can_fetch("mm-bot", u) for u in truth["disallowed"])
    assert all(rp.can_fetch("mm-bot", u) for u in truth["story_pages"] + truth["js_only"])
    assert all(urlsplit(u).path.startswith("/private/") for u in truth["disallowed"])
    assert request(truth["disallowed"][0])[0] == 200  # the site serves it; only a polite crawler stays out


def test_sitemaps_list_pages(site):
    truth = site.expected()
    index = ET.fromstring(request(truth["sitemap_index_url"])[2])
    maps = [e.text for e in index.iter(f"{SM}loc")]
    assert truth["sitemap_url"] in maps and len(maps) == 2
    status, headers, body = request(truth["sitemap_url"])
    assert status == 200 and headers["content-type"].startswith("application/xml")
    locs = [e.text for e in ET.fromstring(body).iter(f"{SM}loc")]
    assert locs == truth["listed"]
    pages = [e.text for e in ET.fromstring(request(maps[1])[2]).iter(f"{SM}loc")]
    assert all(request(u)[0] == 200 for u in pages)


# --- pages -------------------------------------------------------------------------------------------------------
def test_story_page_has_chrome_and_exact_story_text(site):
    truth = site.expected()
    url = next(u for u in truth["story_pages"] if u not in truth["multi_page"])
    html = html_of(url)
    for marker in ('<nav class="main-nav"', 'class="sidebar"', 'class="comments"', '<footer class="site-footer"',
                   'class="share-bar"', 'class="author-box"', 'class="related"', "We use cookies"):
        assert marker in html, marker
    assert "\n\n".join(StoryText(html).paragraphs) == truth["stories"][url]["text"]


def test_multi_page_stories_chain_with_rel_next(site):
    truth = site.expected()
    assert truth["multi_page"] and all(len(pages) >= 2 for pages in truth["multi_page"].values())
    for first, pages in truth["multi_page"].items():
        seen, paragraphs, url = [], [], first
        while url and len(seen) < 10:
            parsed = StoryText(html_of(url))
            seen.append(url)
            paragraphs += parsed.paragraphs
            nxt = parsed.links.get("next")
            if nxt:
                assert parsed.anchors["next"] == (nxt, "Next page »")  # a visible link too
            if len(seen) > 1:
                assert site.url(parsed.links["prev"]) == seen[-2]
            url = site.url(nxt) if nxt else None
        assert seen == pages
        assert "\n\n".join(paragraphs) == truth["stories"][first]["text"]
        assert re.match(r".*/stories/[a-z0-9-]+/page/2/$", pages[1])


def test_js_pages_hold_text_only_in_script_data(site):
    truth = site.expected()
    kinds = set()
    for url in truth["js_only"]:
        html = html_of(url)
        paragraphs = truth["stories"][url]["text"].split("\n\n")
        static = strip_scripts(html)
        assert '<div id="app"></div>' in static and "<noscript>" in static
        assert not any(p in static for p in paragraphs if len(p) > 20)
        blob = re.search(r'<script type="application/json" id="story-data">(.*?)</script>', html, re.S)
        if blob:
            kinds.add("inline")
            data = json.loads(blob.group(1))
        else:
            kinds.add("api")
            api = re.search(r'fetch\("(/api/story/[a-z0-9-]+\.json)"\)', html).group(1)
            status, headers, body = request(site.url(api))
            assert status == 200 and headers["content-type"] == "application/json; charset=utf-8"
            data = json.loads(body)
        assert data["paragraphs"] == paragraphs and data["title"] == truth["stories"][url]["title"]
    assert kinds == {"inline", "api"}


def test_duplicates_foreign_wall_and_short_pages(site):
    truth = site.expected()
    for dup, orig in truth["exact_duplicates"].items():
        assert "\n\n".join(StoryText(html_of(dup), "print-body").paragraphs) == truth["stories"][orig]["text"]
    for dup, orig in truth["near_duplicates"].items():
        a = truth["stories"][orig]["text"].split()
        b = " ".join(StoryText(html_of(dup)).paragraphs).split()
        changed = sum(x != y for x, y in zip(a, b)) + abs(len(a) - len(b))
        assert 0 < changed <= 12
        grams = lambda ws: {tuple(ws[i:i + 5]) for i in range(len(ws) - 4)}  # noqa: E731
        assert len(grams(a) & grams(b)) / len(grams(a) | grams(b)) >= 0.8
    (foreign, lang), = truth["foreign"].items()
    html = html_of(foreign)
    assert lang == "fr" and 'lang="fr"' in html and len(" ".join(StoryText(html).paragraphs)) > 800
    for wall in truth["app_wall"]:
        html = html_of(wall)
        assert "Get the app to continue reading" in html and len(StoryText(html).paragraphs) == 1
    for short in truth["too_short"]:
        assert 0 < len(" ".join(StoryText(html_of(short)).paragraphs)) < 300


def test_unknown_paths_404_and_slashless_story_redirects(site):
    for path in ("/nope/", "/../../etc/passwd", "/static/illustrations/../../site.css", "/api/story/x.json"):
        status, headers, body = request(site.url(path))
        assert status == 404 and headers["content-type"] == "text/html; charset=utf-8", path
        assert b"Page not found" in body
    story = site.expected()["story_pages"][0]
    status, headers, _ = request(story.rstrip("/"))
    assert status == 301 and site.url(headers["location"]) == story
    status, headers, body = request(story, method="HEAD")
    assert status == 200 and body == b"" and int(headers["content-length"]) > 1000


# --- behaviours --------------------------------------------------------------------------------------------------
def test_flaky_page_fails_once_then_works_per_instance():
    for failures in (1, 2):
        with DemoSite(stories=MIN_STORIES, seed=5, slow_seconds=0, flaky_failures=failures) as s:
            url = s.expected()["flaky"][0]
            statuses = [request(url)[0] for _ in range(failures + 2)]
            assert statuses == [500] * failures + [200, 200]


def test_slow_page_delay_is_configurable():
    for delay in (0.0, 0.6):
        with DemoSite(stories=MIN_STORIES, seed=5, slow_seconds=delay) as s:
            start = time.monotonic()
            assert request(s.expected()["slow"][0])[0] == 200
            took = time.monotonic() - start
            assert (took >= 0.55) if delay else (took < 0.5)


def test_requests_are_logged(site):
    before = len(site.requested_paths())
    request(site.url("/about/"))
    assert site.requested_paths()[before:] == ["/about/"]


# --- determinism and escaping ------------------------------------------------------------------------------------
def test_same_seed_same_bytes_other_seed_other_site():
    def snapshot(s: DemoSite) -> dict:
        paths = ["/", "/stories/", "/about/"] + [urlsplit(u).path for u in s.expected()["listed"]]
        out = {p: request(s.url(p))[2] for p in paths}
        out["search"] = json.dumps(search(s, "stories")).replace(s.base_url, "").replace(f"127.0.0.1:{s.port}", "")
        return out
    with DemoSite(stories=MIN_STORIES, seed=9, slow_seconds=0) as a, \
            DemoSite(stories=MIN_STORIES, seed=9, slow_seconds=0) as b, \
            DemoSite(stories=MIN_STORIES, seed=10, slow_seconds=0) as c:
        first, second, other = snapshot(a), snapshot(b), snapshot(c)
    assert first == second
    assert first != other


def hostile_stories(n: int, seed: int):
    """Stories whose titles and text need escaping (written for this test)."""
    for i in range(n):
        text = (f'Tom wrote <script>alert({i})</script> on the board & said "hi" to Zoë.\n\n'
                "She laughed </p></div> and drew a cat.\nA second line.\n\n* * *\n\nThe end came at last, "
                "as endings do, with tea and toast for everybody in the village hall.")
        yield SimpleNamespace(title=f"Tags <b>&</b> Quotes \"{i}\"", text=text, doc_id=f"hostile-{i}")


def test_story_text_is_escaped_everywhere():
    with DemoSite(stories=MIN_STORIES, seed=1, slow_seconds=0, story_provider=hostile_stories) as s:
        truth = s.expected()
        url = next(u for u in truth["story_pages"] if u not in truth["multi_page"])
        html = html_of(url)
        assert "<script>alert" not in html and "&lt;script&gt;alert(" in html and "</p></div> and" not in html
        assert "\n\n".join(StoryText(html).paragraphs) == truth["stories"][url]["text"]
        for js in truth["js_only"]:
            page = html_of(js)
            blob = re.search(r'id="story-data">(.*?)</script>', page, re.S)
            if blob:
                assert "<" not in blob.group(1) and "&" not in blob.group(1)
                assert "\n\n".join(json.loads(blob.group(1))["paragraphs"]) == truth["stories"][js]["text"]


# --- command line and a real browser ------------------------------------------------------------------------------
def test_cli_serves_until_interrupted_and_rejects_bad_flags():
    cmd = [sys.executable, "-m", "demo.site", "--port", "0", "--stories", str(MIN_STORIES)]
    bad = subprocess.run(cmd[:-1] + ["3"], cwd=REPO_ROOT, capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "at least" in bad.stderr and "Traceback" not in bad.stderr
    # A shell's background job inherits SIGINT ignored (and Python then keeps ignoring it): give the server the
    # default disposition, as a terminal would, so Ctrl-C is what is tested even when the suite runs with `&`.
    proc = subprocess.Popen(cmd, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        line = proc.stdout.readline()
        base = re.search(r"http://127\.0\.0\.1:\d+", line).group(0)
        assert request(base + "/robots.txt")[0] == 200
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def find_chromium():
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return None
    return next((p for p in map(shutil.which, ("chromium", "chromium-browser", "google-chrome")) if p), None)


@pytest.mark.skipif(find_chromium() is None and not os.environ.get("CI"), reason="needs Playwright and a Chromium")
def test_js_pages_render_in_a_real_browser(site):
    from playwright.sync_api import sync_playwright
    truth = site.expected()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=find_chromium(), args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--no-first-run", "--disable-quic"])
        try:
            page = browser.new_page()
            for url in truth["js_only"]:
                page.goto(url, wait_until="networkidle", timeout=20_000)
                shown = page.inner_text(".entry-content")
                assert shown.split("\n\n") == truth["stories"][url]["text"].split("\n\n")
        finally:
            browser.close()
