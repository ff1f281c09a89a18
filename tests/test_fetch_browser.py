"""Headless Chromium: JavaScript-written stories in browser and auto modes, blocking, and life without a browser.

These run against the real Chromium (Playwright's own, or the system's /usr/bin/chromium); they are skipped only
when no Chromium exists at all.
"""

import json
import logging
import os
from pathlib import Path

import pytest

from common.config import UserError
from common.paths import DatasetPaths
from scraper.fetch.browser import BrowserRenderer, system_chromium
from scraper.manifest import UrlManifest
from scraper.snapshots import read_snapshot
from scripts import fetch as fetch_stage
from tests.test_fetch_site import Site, long_story, story_html, test_config

_PW_HOME = Path(os.environ.get("PLAYWRIGHT_BROWSERS_PATH", Path.home() / ".cache" / "ms-playwright"))
HAS_CHROMIUM = system_chromium() is not None or any(_PW_HOME.glob("chromium*"))
# Under CI (which installs Chromium through setup.sh) a missing browser is a failure, never a skip.
needs_chromium = pytest.mark.skipif(not HAS_CHROMIUM and not os.environ.get("CI"),
                                    reason="no Chromium installed (setup.sh installs one)")

PARAS = long_story("Ida", 6)
# The story exists only in the script: the static HTML is an empty app shell.
JS_PAGE = ("<!doctype html><html><head><title>Night ferry</title></head><body>"
           "<div id='app'></div><noscript>You need to enable JavaScript to run this app.</noscript>"
           "<img src='/cover.png'>"
           "<script>const paras = " + json.dumps(PARAS) + ";"
           "document.getElementById('app').innerHTML = '<article><h1>Night ferry</h1>' + "
           "paras.map(p => '<p>' + p + '</p>').join('') + '</article>';</script></body></html>")
# The story arrives by fetch() after load: only a browser that waits for the network sees it.
FETCH_PAGE = ("<!doctype html><html><head><title>Later</title></head><body><div id='root'></div><script>"
              "fetch('/story.json').then(r => r.json()).then(d => {document.getElementById('root').innerHTML = "
              "'<article>' + d.paras.map(p => '<p>' + p + '</p>').join('') + '</article>';});"
              "fetch('/blocked.json').catch(() => {});</script></body></html>")


def discover(paths, *urls):
    with UrlManifest(paths) as m:
        for url in urls:
            m.discover(url, query="t", provider="urls")


def state(paths, url):
    return UrlManifest(paths).get(url)


def serve(site: Site) -> None:
    site.page("/js", JS_PAGE)
    site.page("/static", story_html("Harbour", long_story("Jon")))
    site.page("/cover.png", b"\x89PNG", headers={"Content-Type": "image/png"})
    site.page("/later", FETCH_PAGE)
    site.page("/story.json", json.dumps({"paras": long_story("Kai", 4)}), headers={"Content-Type": "application/json"})
    site.page("/blocked.json", "{}", headers={"Content-Type": "application/json"})


@pytest.fixture
def paths(tmp_path):
    return DatasetPaths.at(tmp_path / "ds")


@needs_chromium
def test_browser_mode_renders_script_written_story(paths):
    with Site() as site:
        serve(site)
        discover(paths, site.url("/js"), site.url("/later"))
        counts = fetch_stage.run(test_config(fetch_mode="browser"), paths)
        assert counts["fetched"] == 2
        s = state(paths, site.url("/js"))
        assert s["fetch_method"] == "browser" and s["http_status"] == 200
        html = read_snapshot(paths, s["snapshots"][0])
        assert f"<p>{PARAS[0]}</p>" in html  # the rendered DOM (the static page has the text only in a script)
        later = read_snapshot(paths, state(paths, site.url("/later"))["snapshots"][0])
        assert "<p>Kai walked along the quiet harbour" in later  # content fetched after load was waited for
        assert site.hits("/cover.png") == 0  # images are blocked


@needs_chromium
def test_auto_mode_renders_only_the_javascript_page(paths):
    with Site() as site:
        serve(site)
        discover(paths, site.url("/js"), site.url("/static"))
        counts = fetch_stage.run(test_config(fetch_mode="auto"), paths)
        assert counts["fetched"] == 2
        js, static = state(paths, site.url("/js")), state(paths, site.url("/static"))
        assert js["fetch_method"] == "browser" and f"<p>{PARAS[2]}</p>" in read_snapshot(paths, js["snapshots"][0])
        assert static["fetch_method"] == "static" and site.hits("/static") == 1


@needs_chromium
def test_renderer_blocks_disallowed_subrequests():
    with Site() as site:
        serve(site)
        renderer = BrowserRenderer(test_config(), allowed=lambda url: not url.endswith("/blocked.json"))
        try:
            page = renderer.render(site.url("/later"))
        finally:
            renderer.close()
        assert "<p>Kai walked" in page.html and page.http_status == 200
        assert site.hits("/story.json") == 1 and site.hits("/blocked.json") == 0


@needs_chromium
def test_auto_without_browser_degrades_with_one_warning_then_recovers(paths, caplog):
    with Site() as site:
        serve(site)
        site.page("/js2", JS_PAGE.replace("Night ferry", "Second ferry"))
        discover(paths, site.url("/js"), site.url("/static"), site.url("/js2"))
        nowhere = str(paths.root / "no-such-chrome")
        with caplog.at_level(logging.WARNING, logger="miniature_memory"):
            counts = fetch_stage.run(test_config(fetch_mode="auto", browser_path=nowhere), paths)
        warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
        assert len(warnings) == 1 and "static" in warnings[0].getMessage(), [r.getMessage() for r in warnings]
        assert counts["fetched"] == 1 and counts["rejected_js_no_browser"] == 2
        assert state(paths, site.url("/js"))["reason"] == "js_no_browser"
        # Still no browser: nothing is due, nothing fetched again.
        again = fetch_stage.run(test_config(fetch_mode="auto", browser_path=nowhere), paths)
        assert again["fetched"] == 0 and site.hits("/js") == 1
        # A browser appears: the JavaScript pages are fetched again and rendered.
        later = fetch_stage.run(test_config(fetch_mode="auto"), paths)
        assert later["fetched"] == 2 and state(paths, site.url("/js"))["fetch_method"] == "browser"
        assert site.hits("/static") == 1


def test_browser_mode_without_browser_is_a_user_error(paths, capsys):
    with Site() as site:
        site.page("/a", story_html("A", ["x"]))
        discover(paths, site.url("/a"))
        with pytest.raises(UserError, match="needs Chromium"):
            fetch_stage.run(test_config(fetch_mode="browser", browser_path="/nonexistent/chrome"), paths)
        rc = fetch_stage.main(["--dataset-dir", str(paths.root), "--fetch-mode", "browser", "--allow-private-hosts",
                               "--browser-path", "/nonexistent/chrome"])
        err = capsys.readouterr().err
        assert rc == 2 and "needs Chromium" in err and len(err.strip().splitlines()) == 1
        assert site.log == []  # refused before any request
