"""The fetch stage end to end against a local site: manifest events, snapshots, pages, reruns, the CLI."""

import gzip
import json
import time

import pytest

from common.config import UserError
from common.paths import DatasetPaths
from scraper.fetch.pages import find_next_link
from scraper.manifest import UrlManifest, canonical_url
from scraper.snapshots import encode_snapshot, read_snapshot, snapshot_rel
from scripts import fetch as fetch_stage
from tests.test_fetch_site import HTML, Site, long_story, story_html, test_config


def discover(paths: DatasetPaths, *urls: str) -> None:
    with UrlManifest(paths) as m:
        for url in urls:
            m.discover(url, query="test", provider="urls")


def events(paths: DatasetPaths) -> list[dict]:
    return [json.loads(line) for line in (paths.metadata / "urls.jsonl").read_text().splitlines() if line.strip()]


def state(paths: DatasetPaths, url: str) -> dict:
    return UrlManifest(paths).get(url)


@pytest.fixture
def paths(tmp_path):
    return DatasetPaths.at(tmp_path / "ds")


def test_manifest_events_snapshots_and_counts(paths):
    with Site() as site:
        site.page("/robots.txt", "User-agent: *\nDisallow: /members/\n", headers={"Content-Type": "text/plain"})
        site.page("/story", story_html("Harbour", long_story("Ann")))
        site.page("/members/x", story_html("Secret", ["no"]))
        site.page("/pic", b"\x89PNG", headers={"Content-Type": "image/png"})
        site.add("/down", lambda n: (502, {}, b""))
        urls = [site.url(p) for p in ("/story", "/members/x", "/pic", "/down")]
        discover(paths, *urls)
        counts = fetch_stage.run(test_config(max_retries=1), paths)
        assert counts["fetched"] == 1 and counts["rejected"] == 2 and counts["failed"] == 1
        assert counts["rejected_robots"] == 1 and counts["rejected_content_type"] == 1
        ok = state(paths, urls[0])
        assert ok["status"] == "fetched" and ok["http_status"] == 200 and ok["attempts"] == 1
        assert ok["fetch_method"] == "static" and ok["pages"] == 1 and ok["charset"] == "utf-8"
        assert ok["content_type"] == "text/html" and ok["final_url"] == urls[0] and ok["fetched_at"]
        assert ok["snapshots"] == [snapshot_rel(canonical_url(urls[0]), 1)]
        html = gzip.decompress((paths.root / ok["snapshots"][0]).read_bytes()).decode("utf-8")
        assert "Ann walked along the quiet harbour" in html
        assert state(paths, urls[1])["reason"] == "robots" and site.hits("/members/x") == 0
        bad = state(paths, urls[3])
        assert bad["status"] == "failed" and bad["http_status"] == 502 and "502" in bad["error"]
        assert "\n" not in bad["error"]
        report = json.loads(paths.manifest("fetch").read_text())
        assert report["counts"] == counts and report["config"]["fetch_mode"] == "static"


def test_no_double_fetch_refetch_and_failed_retry_limit(paths):
    with Site() as site:
        site.page("/a", story_html("A", long_story("Bo")))
        site.add("/flaky", lambda n: (500, {}, b"") if n <= 2 else (200, HTML, story_html("F", long_story("Cy"))))
        a, flaky = site.url("/a"), site.url("/flaky")
        discover(paths, a, flaky, a + "#frag", a + "?utm_source=x")  # the same page three times: one entry
        cfg = test_config(max_retries=0, max_attempts=3)
        first = fetch_stage.run(cfg, paths)
        assert first["fetched"] == 1 and first["failed"] == 1 and site.hits("/a") == 1
        second = fetch_stage.run(cfg, paths)  # /a is done; /flaky is retried (attempt 2) and fails again
        assert second["fetched"] == 0 and second["failed"] == 1 and site.hits("/a") == 1
        third = fetch_stage.run(cfg, paths)
        assert third["fetched"] == 1 and state(paths, flaky)["attempts"] == 3
        assert state(paths, flaky)["error"] is None  # a success clears the old error
        assert fetch_stage.run(cfg, paths)["fetched"] == 0 and site.hits("/a") == 1
        refetched = fetch_stage.run(test_config(refetch=True), paths)
        assert refetched["fetched"] == 2 and site.hits("/a") == 2 and state(paths, a)["attempts"] == 2


def test_failed_urls_stop_after_max_attempts(paths):
    with Site() as site:
        site.add("/down", lambda n: (503, {}, b""))
        discover(paths, site.url("/down"))
        cfg = test_config(max_retries=0, max_attempts=2)
        for _ in range(4):
            fetch_stage.run(cfg, paths)
        assert site.hits("/down") == 2 and state(paths, site.url("/down"))["attempts"] == 2


def test_torn_manifest_line_is_tolerated(paths):
    with Site() as site:
        site.page("/a", story_html("A", long_story("Di")))
        site.page("/b", story_html("B", long_story("Ed")))
        discover(paths, site.url("/a"))
        with open(paths.metadata / "urls.jsonl", "ab") as f:
            f.write(b'{"url": "' + site.url("/b").encode() + b'", "status": "ne')  # killed mid-append
        counts = fetch_stage.run(test_config(), paths)
        assert counts["fetched"] == 1 and site.hits("/b") == 0
        lines = (paths.metadata / "urls.jsonl").read_bytes().split(b"\n")
        assert all(json.loads(line) for line in lines if line)  # the fragment was cut, every line parses


def test_multi_page_story_followed_in_order_and_limited(paths):
    with Site() as site:
        site.page("/s/1", story_html("P1", ["first page text"], '<link rel="next" href="/s/2">'))
        site.page("/s/2", story_html("P2", ["second page text"]) .replace(
            "</article>", '</article><a rel="next prev" href="/s/3">3</a>'))
        site.page("/s/3", story_html("P3", ["third page text"]).replace(
            "</article>", '<a href="/s/4">Next chapter &raquo;</a><a href="/s/1">Next page</a></article>'))
        site.page("/s/4", story_html("P4", ["fourth page text"]).replace(
            "</article>", '<a href="/s/1">Next Page</a></article>'))  # a loop back: not followed
        site.page("/other/1", story_html("O1", ["other"], f'<link rel="next" href="http://localhost:{site.port}/x">'))
        url = site.url("/s/1")
        discover(paths, url, site.url("/other/1"))
        fetch_stage.run(test_config(), paths)
        s = state(paths, url)
        assert s["pages"] == 4 and len(s["snapshots"]) == 4
        texts = [read_snapshot(paths, rel) for rel in s["snapshots"]]
        for i, word in enumerate(("first", "second", "third", "fourth")):
            assert f"{word} page text" in texts[i]
        assert s["snapshots"][1].endswith("__p2.html.gz") and site.hits("/s/1") == 1
        assert state(paths, site.url("/other/1"))["pages"] == 1  # another host is never followed
        fetch_stage.run(test_config(refetch=True, max_pages=2), paths)
        assert state(paths, url)["pages"] == 2 and site.hits("/s/3") == 1


def test_find_next_link_rules():
    base = "http://h.test/story/1"
    assert find_next_link('<a href="/story/2">Next page →</a>', base) == "http://h.test/story/2"
    assert find_next_link('<a href="2" title="Next Chapter">»</a>', base) == "http://h.test/story/2"
    assert find_next_link('<a href="/story/9">Next</a>', base) is None  # bare "Next": often the next story
    assert find_next_link('<a href="http://other.test/2" rel="next">x</a>', base) is None
    assert find_next_link('<a href="javascript:go()">Next page</a>', base) is None
    assert find_next_link('<a href="#top" rel="next">x</a><a href="/story/1#c">Next page</a>', base) is None
    assert find_next_link("", base) is None and find_next_link("   ", base) is None


def test_snapshot_bytes_are_deterministic(paths, tmp_path):
    html = story_html("Det", long_story("Flo"))
    assert encode_snapshot(html) == encode_snapshot(html)
    assert encode_snapshot(html)[4:8] == b"\0\0\0\0"  # no timestamp in the gzip header
    with Site() as site:
        site.page("/d", html)
        other = DatasetPaths.at(tmp_path / "other")
        for p in (paths, other):
            discover(p, site.url("/d"))
            time.sleep(1.1) if p is paths else None  # a different second must not change the bytes
            fetch_stage.run(test_config(), p)
        rel = state(paths, site.url("/d"))["snapshots"][0]
        assert (paths.root / rel).read_bytes() == (other.root / rel).read_bytes() == encode_snapshot(html)


def test_concurrency_serves_hosts_in_parallel_but_one_request_per_host(paths):
    with Site() as a, Site() as b:
        for site in (a, b):
            for i in range(3):
                site.add(f"/p{i}", lambda n: (time.sleep(0.15), (200, HTML, story_html("x", ["y"])))[1])
        urls = [s.url(f"/p{i}") for i in range(3) for s in (a, b)]
        discover(paths, *urls)
        start = time.monotonic()
        counts = fetch_stage.run(test_config(concurrency=2), paths)
        took = time.monotonic() - start
        assert counts["fetched"] == 6
        assert took < 6 * 0.15 + 0.4, took  # the two hosts overlapped
        for site in (a, b):  # within one host, requests never overlapped
            times = site.times("/p0") + site.times("/p1") + site.times("/p2")
            times.sort()
            assert all(y - x >= 0.14 for x, y in zip(times, times[1:])), times


def test_config_validation_and_cli_flags(paths, capsys):
    with pytest.raises(UserError):
        fetch_stage.run(test_config(fetch_mode="turbo"), paths)
    with pytest.raises(UserError):
        fetch_stage.run(test_config(concurrency=0), paths)
    assert fetch_stage.main(["--dataset-dir", str(paths.root), "--fetch-mode", "nope"]) == 2
    assert "fetch_mode must be one of" in capsys.readouterr().err
    rc = fetch_stage.main(["--dataset-dir", str(paths.root), "--dry-run", "--fetch-mode", "static",
                           "--delay", "0.5", "--allow-private-hosts", "--max-bytes", "1000", "--refetch"])
    out = capsys.readouterr().out
    resolved = json.loads(out.split("\n", 1)[1])
    assert rc == 0 and resolved["delay"] == 0.5 and resolved["allow_private_hosts"] is True
    assert resolved["max_bytes"] == 1000 and resolved["refetch"] is True and resolved["fetch_mode"] == "static"


def test_cli_run_against_local_site(paths, capsys):
    with Site() as site:
        site.page("/a", story_html("A", long_story("Gus")))
        discover(paths, site.url("/a"))
        rc = fetch_stage.main(["--dataset-dir", str(paths.root), "--fetch-mode", "static", "--delay", "0",
                               "--allow-private-hosts"])
        assert rc == 0 and "1 fetched" in capsys.readouterr().out
        rc = fetch_stage.main(["--dataset-dir", str(paths.root), "--fetch-mode", "static", "--delay", "0"])
        assert rc == 0 and site.hits("/a") == 1  # second run: nothing due


def test_private_hosts_rejected_by_default(paths):
    with Site() as site:
        site.page("/a", story_html("A", long_story("Hal")))
        discover(paths, site.url("/a"))
        counts = fetch_stage.run(test_config(allow_private_hosts=False), paths)
        assert counts["rejected_private_host"] == 1 and site.log == []


def test_interrupt_keeps_finished_urls_and_resumes(paths, monkeypatch):
    from scraper.fetch.story import StoryFetcher
    with Site() as site:
        for p in ("/a", "/b", "/c"):
            site.page(p, story_html(p, long_story("Ivy")))
        discover(paths, *(site.url(p) for p in ("/a", "/b", "/c")))
        real = StoryFetcher.fetch

        def fetch_then_interrupt(self, url, *rest):
            if url.endswith("/b"):
                raise KeyboardInterrupt
            return real(self, url, *rest)

        monkeypatch.setattr(StoryFetcher, "fetch", fetch_then_interrupt)
        with pytest.raises(KeyboardInterrupt):
            fetch_stage.run(test_config(), paths)
        assert state(paths, site.url("/a"))["status"] == "fetched"  # flushed before the interrupt
        assert state(paths, site.url("/b"))["status"] == "new"
        monkeypatch.setattr(StoryFetcher, "fetch", real)
        counts = fetch_stage.run(test_config(), paths)
        assert counts["fetched"] == 2 and site.hits("/a") == 1


@pytest.mark.slow
def test_sigkill_mid_run_loses_only_the_url_in_flight(paths):
    import os
    import signal
    import subprocess
    import sys
    from common.paths import REPO_ROOT
    with Site() as site:
        site.page("/a", story_html("A", long_story("Jo")))
        site.add("/b", lambda n: (time.sleep(5 if n == 1 else 0), (200, HTML, story_html("B", long_story("Ky"))))[1])
        discover(paths, site.url("/a"), site.url("/b"))
        proc = subprocess.Popen([sys.executable, str(REPO_ROOT / "scripts" / "fetch.py"), "--dataset-dir",
                                 str(paths.root), "--fetch-mode", "static", "--delay", "0", "--allow-private-hosts"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 20
            while site.hits("/b") == 0 and time.monotonic() < deadline and proc.poll() is None:
                time.sleep(0.02)
            assert site.hits("/b") == 1
        finally:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
        a = state(paths, site.url("/a"))
        assert a["status"] == "fetched" and (paths.root / a["snapshots"][0]).is_file()
        assert state(paths, site.url("/b"))["status"] == "new"
        counts = fetch_stage.run(test_config(), paths)
        assert counts["fetched"] == 1 and site.hits("/a") == 1 and site.hits("/b") == 2


def test_host_with_excessive_crawl_delay_is_skipped_not_recorded(paths):
    with Site() as site:
        site.page("/robots.txt", "User-agent: *\nCrawl-delay: 100\n", headers={"Content-Type": "text/plain"})
        site.page("/a", story_html("A", long_story("Lu")))
        site.page("/b", story_html("B", long_story("Mo")))
        discover(paths, site.url("/a"), site.url("/b"))
        counts = fetch_stage.run(test_config(max_crawl_delay=5), paths)
        assert counts["skipped"] == 2 and counts["fetched"] == 0 and site.hits("/a") == 0
        assert state(paths, site.url("/a"))["status"] == "new"  # fetched once the user raises the limit


def test_refetch_includes_pages_the_extractor_rejected(paths):
    with Site() as site:
        site.page("/a", story_html("A", long_story("Ned")))
        discover(paths, site.url("/a"))
        fetch_stage.run(test_config(), paths)
        with UrlManifest(paths) as m:
            m.record(site.url("/a"), "rejected", reason="js_shell", rejected_by="extract")
        assert fetch_stage.run(test_config(), paths)["fetched"] == 0 and site.hits("/a") == 1
        assert fetch_stage.run(test_config(refetch=True), paths)["fetched"] == 1 and site.hits("/a") == 2
