"""Multi-page stories whose later pages break, next links that lead elsewhere, and malformed manifest URLs.

Every case runs the real fetch stage against a local 127.0.0.1 site (tests/test_fetch_site.py) and checks the
URL manifest, the snapshots on disk and the requests the site saw.
"""

import json
import time

import pytest

from common.paths import DatasetPaths
from scraper.fetch.pages import find_next_link, same_story_path
from scraper.manifest import UrlManifest
from scraper.snapshots import read_snapshot
from scripts import extract as extract_stage
from scripts import fetch as fetch_stage
from tests.test_fetch_site import HTML, Site, long_story, story_html, test_config
from tests.test_fetch_stage import discover, state


@pytest.fixture
def paths(tmp_path):
    return DatasetPaths.at(tmp_path / "ds")


def chapter(title: str, seed: str, next_link: str = "") -> str:
    """A story page with enough text to extract, and `next_link` (HTML) after the article."""
    return story_html(title, long_story(seed, 6)).replace("</article>", f"</article>{next_link}")


def texts(paths: DatasetPaths, entry: dict) -> list[str]:
    return [read_snapshot(paths, rel) for rel in entry["snapshots"]]


def test_404_on_page_2_keeps_page_1_as_an_incomplete_story(paths):
    with Site() as site:
        site.page("/robots.txt", "User-agent: *\nDisallow: /private/\n", headers={"Content-Type": "text/plain"})
        site.page("/s/1", chapter("One", "Ann", '<a href="/s/2">Continue to next part</a>'))  # /s/2 answers 404
        site.page("/t/1", chapter("T1", "Bo", '<a rel="next" href="/t/2">2</a>'))
        site.page("/t/2", chapter("T2", "Bo", '<a href="/private/t3">Next chapter</a>'))  # robots says no
        discover(paths, site.url("/s/1"), site.url("/t/1"))
        counts = fetch_stage.run(test_config(), paths)
        assert counts["fetched"] == 2 and counts["incomplete"] == 2 and counts["failed"] == 0
        s = state(paths, site.url("/s/1"))
        assert s["status"] == "fetched" and s["pages"] == 1 and s["complete"] is False
        assert s["stopped_at_page"] == 2 and s["stop_reason"] == "http_404" and "404" in s["stop_error"]
        assert "Ann walked" in texts(paths, s)[0] and s["http_status"] == 200 and s["resume"] is None
        t = state(paths, site.url("/t/1"))
        assert t["pages"] == 2 and t["stopped_at_page"] == 3 and t["stop_reason"] == "robots"
        assert site.hits("/private/t3") == 0 and site.hits("/s/2") == 1
        # stored like any story: the extract stage makes a raw item whose provenance says it is incomplete
        assert extract_stage.run(extract_stage.ExtractConfig(), paths)["extracted"] == 2
        records = [json.loads(line) for line in paths.raw_index.read_text().splitlines()]
        by_url = {r["url"]: r for r in records}
        assert by_url[site.url("/s/1")]["complete"] is False
        assert by_url[site.url("/s/1")]["stop_reason"] == "http_404"
        assert by_url[site.url("/t/1")]["stopped_at_page"] == 3 and by_url[site.url("/t/1")]["pages"] == 2
        # a permanent stop is final: a later run asks nothing again
        assert fetch_stage.run(test_config(), paths)["fetched"] == 0 and site.hits("/s/1") == 1


def test_500_on_page_2_resumes_at_page_2_on_the_next_run(paths):
    with Site() as site:
        site.page("/s/1", chapter("One", "Cy", '<link rel="next" href="/s/2">'))
        site.add("/s/2", lambda n: (500, {}, b"") if n == 1 else (200, HTML, chapter("Two", "Di",
                                                                                      '<a href="/s/3">Next page</a>')))
        site.page("/s/3", chapter("Three", "Ed"))
        url = site.url("/s/1")
        discover(paths, url)
        cfg = test_config(max_retries=0, max_attempts=3)
        first = fetch_stage.run(cfg, paths)
        assert first["failed"] == 1 and first["fetched"] == 0
        s = state(paths, url)
        assert s["status"] == "failed" and s["http_status"] == 500 and s["stop_reason"] == "http_500"
        assert s["resume"]["next_url"] == site.url("/s/2") and len(s["resume"]["snapshots"]) == 1
        assert "Cy walked" in read_snapshot(paths, s["resume"]["snapshots"][0])  # page 1 survived the run
        assert "\n" not in s["error"] and "kept" in s["error"]
        second = fetch_stage.run(cfg, paths)
        assert second["fetched"] == 1 and "incomplete" not in second
        s = state(paths, url)
        assert s["status"] == "fetched" and s["complete"] is True and s["pages"] == 3 and s["attempts"] == 2
        assert s["resume"] is None and s["stop_reason"] is None and s["final_url"] == url
        assert [t.count(w) > 0 for t, w in zip(texts(paths, s), ("Cy walked", "Di walked", "Ed walked"))] == [1] * 3
        assert (site.hits("/s/1"), site.hits("/s/2"), site.hits("/s/3")) == (1, 2, 1)  # page 1 not asked again


def test_page_that_keeps_failing_is_kept_incomplete_after_max_attempts(paths):
    with Site() as site:
        site.page("/s/1", chapter("One", "Flo", '<a rel="next" href="/s/2">2</a>'))
        site.add("/s/2", lambda n: (503, {}, b""))
        url = site.url("/s/1")
        discover(paths, url)
        cfg = test_config(max_retries=0, max_attempts=2)
        assert fetch_stage.run(cfg, paths)["failed"] == 1
        assert state(paths, url)["status"] == "failed"
        counts = fetch_stage.run(cfg, paths)  # the last attempt: keep what there is
        assert counts["fetched"] == 1 and counts["incomplete"] == 1
        s = state(paths, url)
        assert s["status"] == "fetched" and s["complete"] is False and s["pages"] == 1 and s["attempts"] == 2
        assert s["stopped_at_page"] == 2 and s["stop_reason"] == "http_503" and s["resume"] is None
        fetch_stage.run(cfg, paths)
        assert (site.hits("/s/1"), site.hits("/s/2")) == (1, 2)


def test_partial_left_over_when_max_attempts_was_lowered_is_kept_without_a_request(paths):
    with Site() as site:
        site.page("/s/1", chapter("One", "Gus", '<a rel="next" href="/s/2">2</a>'))
        site.add("/s/2", lambda n: (503, {}, b""))
        url = site.url("/s/1")
        discover(paths, url)
        fetch_stage.run(test_config(max_retries=0, max_attempts=5), paths)
        counts = fetch_stage.run(test_config(max_retries=0, max_attempts=1), paths)
        assert counts["fetched"] == 1 and (site.hits("/s/1"), site.hits("/s/2")) == (1, 1)
        s = state(paths, url)
        assert s["complete"] is False and s["stop_reason"] == "http_503" and s["pages"] == 1
        assert "503" in s["stop_error"] and "later run" not in s["stop_error"]


def test_timeout_on_page_2_resumes_later(paths):
    def slow_once(n):
        def body():
            if n == 1:
                time.sleep(1.0)  # longer than read_timeout below
            yield chapter("Two", "Hal").encode("utf-8")
        return 200, HTML, body()

    with Site() as site:
        site.page("/s/1", chapter("One", "Ivy", '<link rel="next" href="/s/2">'))
        site.add("/s/2", slow_once)
        url = site.url("/s/1")
        discover(paths, url)
        cfg = test_config(max_retries=0, read_timeout=0.3)
        assert fetch_stage.run(cfg, paths)["failed"] == 1
        s = state(paths, url)
        assert s["stop_reason"] == "timeout" and s["resume"]["next_url"] == site.url("/s/2")
        assert fetch_stage.run(test_config(max_retries=0), paths)["fetched"] == 1
        s = state(paths, url)
        assert s["complete"] is True and s["pages"] == 2 and site.hits("/s/1") == 1


def test_resume_with_a_lost_snapshot_starts_over(paths):
    with Site() as site:
        site.page("/s/1", chapter("One", "Jo", '<a rel="next" href="/s/2">2</a>'))
        site.add("/s/2", lambda n: (502, {}, b"") if n == 1 else (200, HTML, chapter("Two", "Ky")))
        url = site.url("/s/1")
        discover(paths, url)
        cfg = test_config(max_retries=0)
        fetch_stage.run(cfg, paths)
        (paths.root / state(paths, url)["resume"]["snapshots"][0]).unlink()
        assert fetch_stage.run(cfg, paths)["fetched"] == 1
        s = state(paths, url)
        assert s["pages"] == 2 and s["complete"] is True and site.hits("/s/1") == 2
        assert all((paths.root / rel).is_file() for rel in s["snapshots"])


def test_site_wide_next_links_do_not_glue_stories(paths):
    with Site() as site:
        nav = ('<nav><a href="/blog/page/2/">Next page &raquo;</a> <a rel="next" href="/stories/lighthouse/">'
               'Lighthouse</a></nav>')
        head = "<link rel='next' title='The Lighthouse' href='/stories/lighthouse/'>"  # WordPress: next post
        site.page("/stories/harbour/", story_html("Harbour", long_story("Lu")).replace(
            "</head>", f"{head}</head>").replace("</article>", f"</article>{nav}"))
        site.page("/stories/lighthouse/", chapter("Lighthouse", "Mo"))
        site.page("/blog/page/2/", chapter("Listing", "Ned"))
        url = site.url("/stories/harbour/")
        discover(paths, url)
        assert fetch_stage.run(test_config(), paths)["fetched"] == 1
        s = state(paths, url)
        assert s["pages"] == 1 and s["complete"] is True
        assert site.hits("/stories/lighthouse/") == 0 and site.hits("/blog/page/2/") == 0


def test_rel_next_and_next_chapter_links_are_followed(paths):
    with Site() as site:
        site.page("/read?id=7", chapter("P1", "Ola", '<link rel="next" href="/read?id=7&amp;page=2">'))
        site.page("/read?id=7&page=2", chapter("P2", "Pam", '<a href="/fic/the-storm">Next Chapter &rarr;</a>'))
        site.page("/fic/the-storm", chapter("P3", "Quin"))
        url = site.url("/read?id=7")
        discover(paths, url)
        fetch_stage.run(test_config(), paths)
        s = state(paths, url)
        assert s["pages"] == 3 and s["complete"] is True
        assert "Quin walked" in texts(paths, s)[2]


def test_max_pages_cut_is_marked_incomplete(paths):
    with Site() as site:
        for i in range(1, 4):
            site.page(f"/s/{i}", chapter(f"P{i}", "Ray", f'<a rel="next" href="/s/{i + 1}">next</a>'))
        url = site.url("/s/1")
        discover(paths, url)
        fetch_stage.run(test_config(max_pages=2), paths)
        s = state(paths, url)
        assert s["pages"] == 2 and s["complete"] is False and s["stop_reason"] == "max_pages"
        assert s["stopped_at_page"] == 3 and site.hits("/s/3") == 0


def test_find_next_link_requires_the_same_story():
    base = "http://h.test/stories/harbour/"
    assert find_next_link('<link rel="next" href="/stories/harbour/page/2/">', base) == \
        "http://h.test/stories/harbour/page/2/"
    assert find_next_link('<link rel="next" href="/stories/lighthouse/">', base) is None
    assert find_next_link('<a href="/blog/page/2/">Next page</a>', base) is None
    assert find_next_link('<a href="/stories/ch-2-storm">Next chapter</a>', base) == \
        "http://h.test/stories/ch-2-storm"
    assert find_next_link('<a href="http://*.h.test/x">Next part</a>', base) is None
    assert find_next_link('<a href="http://[::1">Next part</a>', base) is None
    # the rel=next link that does not fit loses to a "next page" link that does
    html = '<link rel="next" href="/other/"><a href="?page=2">Next page</a>'
    assert find_next_link(html, base) == "http://h.test/stories/harbour/?page=2"


@pytest.mark.parametrize("here, there, same", [
    ("/s/1", "/s/2", True), ("/story/", "/story/page/2/", True), ("/a.html", "/a-2.html", True),
    ("/s/81512/1/Title", "/s/81512/2/Title", True), ("/read?id=7", "/read?id=7&page=2", True),
    ("/viewstory.php?sid=3&chapter=1", "/viewstory.php?sid=3&chapter=2", True),
    ("/story/harbour", "/story/lighthouse", False), ("/story/harbour", "/blog/page/2", False),
    ("/read?id=7", "/read?id=8", False), ("/stories/12345", "/stories/12346", False),
])
def test_same_story_path(here, there, same):
    assert same_story_path("http://h.test" + here, "http://h.test" + there) is same


BAD_URLS = ("http://*.localhost:{port}/x", "http://[::1", "http://exa mple.com/", "http://a..b/")


def test_malformed_manifest_urls_are_rejected_and_the_rest_fetched(paths, capsys):
    with Site() as site:
        site.page("/a", chapter("A", "Sam"))
        site.page("/b", chapter("B", "Tia"))
        bad = [u.format(port=site.port) for u in BAD_URLS]
        discover(paths, site.url("/a"))
        with open(paths.metadata / "urls.jsonl", "a") as f:  # as an old version or a hand edit left them
            for u in bad:
                f.write(json.dumps({"url": u, "status": "new", "attempts": 0}) + "\n")
        discover(paths, site.url("/b"))
        counts = fetch_stage.run(test_config(), paths)
        assert counts["fetched"] == 2 and counts["rejected_bad_url"] == len(bad)
        entries = {e["url"]: e for e in UrlManifest(paths).entries()}
        for u in bad:
            assert entries[u]["status"] == "rejected" and entries[u]["reason"] == "bad_url"
            assert "\n" not in entries[u]["error"] and entries[u]["error"]
        rc = fetch_stage.main(["--dataset-dir", str(paths.root), "--fetch-mode", "static", "--delay", "0",
                               "--allow-private-hosts"])  # a later run: nothing due, no traceback
        assert rc == 0 and "0 fetched" in capsys.readouterr().out
        assert site.hits("/a") == 1 and site.hits("/b") == 1


def test_robots_precheck_error_is_recorded_not_raised(paths, monkeypatch):
    from scraper.fetch.robots import RobotsCache
    with Site() as a, Site() as b:
        a.page("/x", chapter("X", "Uma"))
        b.page("/y", chapter("Y", "Vic"))
        real = RobotsCache.crawl_delay

        def crawl_delay(self, url):
            if f":{a.port}/" in url:
                raise RuntimeError("robots parser surprise")
            return real(self, url)

        monkeypatch.setattr(RobotsCache, "crawl_delay", crawl_delay)
        discover(paths, a.url("/x"), b.url("/y"))
        counts = fetch_stage.run(test_config(), paths)
        assert counts["fetched"] == 1 and counts["failed"] == 1
        assert "robots parser surprise" in state(paths, a.url("/x"))["error"]


def test_unexpected_error_on_page_2_keeps_page_1_for_a_later_run(paths, monkeypatch):
    from scraper.fetch.story import StoryFetcher
    with Site() as site:
        site.page("/s/1", chapter("One", "Wes", '<a rel="next" href="/s/2">2</a>'))
        site.page("/s/2", chapter("Two", "Xan"))
        url = site.url("/s/1")
        discover(paths, url)
        real, calls = StoryFetcher.fetch_page, []

        def broken_once(self, page_url):
            calls.append(page_url)
            if page_url.endswith("/s/2") and calls.count(page_url) == 1:
                raise RuntimeError("parser surprise")
            return real(self, page_url)

        monkeypatch.setattr(StoryFetcher, "fetch_page", broken_once)
        assert fetch_stage.run(test_config(), paths)["failed"] == 1
        s = state(paths, url)
        assert s["stop_reason"] == "error" and "RuntimeError: parser surprise" in s["error"] and s["resume"]
        assert fetch_stage.run(test_config(), paths)["fetched"] == 1
        assert state(paths, url)["pages"] == 2 and site.hits("/s/1") == 1
