"""Search stage against fake provider APIs on 127.0.0.1: response shapes, paging, keys, quota stops, errors,
URL rules, the urls provider, dedup, incremental re-runs and the manifest's torn last line."""

import json

import pytest

from common.config import StageFailed, UserError
from common.fsio import read_json
from scraper.manifest import MANIFEST_NAME, UrlManifest
from scraper.search.base import DomainRules, http_url, read_urls_file
from scripts import search as stage
from tests.support.search_servers import Reply, json_reply


def cfg(**kw) -> stage.SearchConfig:
    kw.setdefault("connect_timeout", 5.0)
    kw.setdefault("read_timeout", 5.0)
    return stage.SearchConfig(**kw)


def manifest_urls(paths) -> list[str]:
    return [e["url"] for e in UrlManifest(paths).entries()]


def manifest_lines(paths) -> list[str]:
    p = paths.metadata / MANIFEST_NAME
    return p.read_text(encoding="utf-8").splitlines() if p.exists() else []


def searxng_pages(pages: list[list[str]]):
    """A /search route answering page N (pageno, 1-based) from `pages`; past the end an empty list."""
    def route(params, headers):
        n = int(params.get("pageno", "1"))
        urls = pages[n - 1] if n <= len(pages) else []
        return json_reply({"query": params.get("q"), "number_of_results": 0,
                           "results": [{"url": u, "title": f"t{i}", "engine": "fake"} for i, u in enumerate(urls)]})
    return route


def site(n: int, prefix: str = "s") -> list[str]:
    return [f"https://stories.example/{prefix}{i}" for i in range(n)]


# --- searxng -------------------------------------------------------------------------------------------

def test_searxng_pages_until_empty_and_records_each_url(server, paths):
    server.routes["/search"] = searxng_pages([site(3, "a"), site(3, "b") + ["mailto:x@y.z"]])
    counts = stage.run(cfg(base_url=server.url, query=["fairy tale"], max_results=0), paths)
    seen = server.hits("/search")
    assert [r.params["pageno"] for r in seen] == ["1", "2", "3"]
    assert all(r.params["format"] == "json" and r.params["q"] == "fairy tale" for r in seen)
    assert counts["new"] == 6 and counts["skipped"] == 1 and counts["found"] == 7
    entries = UrlManifest(paths).entries()
    assert [e["url"] for e in entries] == site(3, "a") + site(3, "b")
    assert all(e["status"] == "new" and e["provider"] == "searxng" and e["query"] == "fairy tale"
               and e["attempts"] == 0 and e["discovered_at"] for e in entries)
    assert read_json(paths.manifest("search"))["counts"]["new"] == 6


def test_searxng_max_results_stops_paging(server, paths):
    server.routes["/search"] = searxng_pages([site(3, "a"), site(3, "b"), site(3, "c")])
    counts = stage.run(cfg(base_url=server.url, query=["q"], max_results=4), paths)
    assert counts["new"] == 4
    assert [r.params["pageno"] for r in server.hits("/search")] == ["1", "2"]  # page 3 never asked for


def test_searxng_403_format_disabled_fails_with_hint(server, paths):
    server.routes["/search"] = Reply(403, "<html>Forbidden</html>")
    with pytest.raises(StageFailed, match="JSON format"):
        stage.run(cfg(base_url=server.url, query=["q"]), paths)


# --- brave ---------------------------------------------------------------------------------------------

def brave_route(pages: list[list[str]], more_after_last: bool = True):
    def route(params, headers):
        n = int(params["offset"])
        urls = pages[n] if n < len(pages) else []
        more = n < len(pages) - 1 or more_after_last
        return json_reply({"type": "search", "query": {"original": params["q"], "more_results_available": more},
                           "web": {"type": "search", "results": [{"url": u, "title": "x"} for u in urls]}})
    return route


def test_brave_sends_key_header_and_pages_by_offset(server, paths, monkeypatch):
    monkeypatch.setenv("BRAVE_API_KEY", "test-brave-key")
    server.routes["/res/v1/web/search"] = brave_route([site(2, "a"), site(2, "b")], more_after_last=False)
    counts = stage.run(cfg(provider="brave", base_url=server.url, query=["q"], max_results=10), paths)
    seen = server.hits("/res/v1/web/search")
    assert [r.params["offset"] for r in seen] == ["0", "1"]  # more_results_available false: no third request
    assert all(r.headers.get("x-subscription-token") == "test-brave-key" for r in seen)
    assert all(r.params["count"] == "10" for r in seen)
    assert counts["new"] == 4
    assert "test-brave-key" not in json.dumps(read_json(paths.manifest("search")))


def test_brave_missing_key_is_user_error_naming_variable(server, paths, monkeypatch):
    monkeypatch.delenv("BRAVE_API_KEY", raising=False)
    server.routes["/res/v1/web/search"] = brave_route([site(2)])
    with pytest.raises(UserError, match="BRAVE_API_KEY"):
        stage.run(cfg(provider="brave", base_url=server.url, query=["q"]), paths)
    assert server.requests == []


def test_brave_429_stops_cleanly_and_keeps_first_page(server, paths, monkeypatch):
    monkeypatch.setenv("BRAVE_API_KEY", "k")

    def route(params, headers):
        if params["offset"] == "0":
            return brave_route([site(3)])(params, headers)
        return json_reply({"type": "ErrorResponse", "error": {"code": "RATE_LIMITED", "status": 429,
                                                              "detail": "Request rate limit exceeded"}},
                          status=429, **{"Retry-After": "1"})
    server.routes["/res/v1/web/search"] = route
    counts = stage.run(cfg(provider="brave", base_url=server.url, query=["q1", "q2"], max_results=40), paths)
    assert counts["new"] == 3 and counts["errors"] == 1
    assert manifest_urls(paths) == site(3)
    assert {r.params["q"] for r in server.hits("/res/v1/web/search")} == {"q1"}  # the stop ends later queries
    assert "rate limit" in read_json(paths.manifest("search"))["stopped"]


# --- google --------------------------------------------------------------------------------------------

def google_route(params, headers):
    start = int(params["start"])
    items = [{"kind": "customsearch#result", "link": f"https://g.example/r{start + i}"} for i in range(10)]
    return json_reply({"kind": "customsearch#search", "items": items,
                       "queries": {"request": [{"startIndex": start}], "nextPage": [{"startIndex": start + 10}]}})


def test_google_pages_with_start_and_caps_at_100(server, paths, monkeypatch):
    monkeypatch.setenv("GOOGLE_API_KEY", "gkey")
    monkeypatch.setenv("GOOGLE_CSE_ID", "gcx")
    server.routes["/customsearch/v1"] = google_route
    counts = stage.run(cfg(provider="google", base_url=server.url, query=["q"], max_results=0), paths)
    seen = server.hits("/customsearch/v1")
    assert [int(r.params["start"]) for r in seen] == list(range(1, 100, 10))
    assert all(r.params["key"] == "gkey" and r.params["cx"] == "gcx" and r.params["num"] == "10" for r in seen)
    assert counts["new"] == 100


def test_google_stops_without_items(server, paths, monkeypatch):
    monkeypatch.setenv("GOOGLE_API_KEY", "gkey")
    monkeypatch.setenv("GOOGLE_CSE_ID", "gcx")
    server.routes["/customsearch/v1"] = lambda p, h: google_route(p, h) if p["start"] == "1" else \
        json_reply({"kind": "customsearch#search", "queries": {}})
    counts = stage.run(cfg(provider="google", base_url=server.url, query=["q"], max_results=50), paths)
    assert counts["new"] == 10 and len(server.hits("/customsearch/v1")) == 2


@pytest.mark.parametrize("missing", ["GOOGLE_API_KEY", "GOOGLE_CSE_ID"])
def test_google_missing_env_is_user_error(paths, monkeypatch, missing):
    monkeypatch.setenv("GOOGLE_API_KEY", "gkey")
    monkeypatch.setenv("GOOGLE_CSE_ID", "gcx")
    monkeypatch.delenv(missing)
    with pytest.raises(UserError, match=missing):
        stage.run(cfg(provider="google", base_url="http://127.0.0.1:9", query=["q"]), paths)


def test_google_403_quota_stops_cleanly(server, paths, monkeypatch):
    monkeypatch.setenv("GOOGLE_API_KEY", "gkey")
    monkeypatch.setenv("GOOGLE_CSE_ID", "gcx")

    def route(params, headers):
        if params["start"] == "1":
            return google_route(params, headers)
        return json_reply({"error": {"code": 403, "message": "This API requires billing. Daily Limit Exceeded.",
                                     "errors": [{"reason": "dailyLimitExceeded"}]}}, status=403)
    server.routes["/customsearch/v1"] = route
    counts = stage.run(cfg(provider="google", base_url=server.url, query=["q"], max_results=0), paths)
    assert counts["new"] == 10 and counts["errors"] == 1
    assert len(manifest_urls(paths)) == 10
    assert "gkey" not in json.dumps(read_json(paths.manifest("search")))


# --- errors --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("body", ["<html>not json</html>", '{"results": [', "[1, 2]", '{"no_results": 1}'])
def test_garbled_response_fails_with_one_line_keeping_earlier_pages(server, paths, body):
    def route(params, headers):
        if params["pageno"] == "1":
            return searxng_pages([site(2)])(params, headers)
        return Reply(200, body, "application/json")
    server.routes["/search"] = route
    with pytest.raises(StageFailed) as err:
        stage.run(cfg(base_url=server.url, query=["q"], max_results=0), paths)
    assert "\n" not in str(err.value) and "searxng" in str(err.value)
    assert manifest_urls(paths) == site(2)  # page 1 was flushed before page 2 broke


def test_main_reports_failures_in_one_line(server, paths, capsys):
    server.routes["/search"] = Reply(200, "garbage", "text/plain")
    rc = stage.main(["--dataset-dir", str(paths.root), "--base-url", server.url, "--query", "q"])
    err = capsys.readouterr().err
    assert rc == 1 and "not JSON" in err and "Traceback" not in err
    rc = stage.main(["--dataset-dir", str(paths.root), "--base-url", "http://127.0.0.1:9", "--query", "q",
                     "--connect-timeout", "2"])
    assert rc == 1 and "cannot reach" in capsys.readouterr().err


def test_main_with_repeated_query_flag(server, paths, capsys):
    server.routes["/search"] = lambda p, h: searxng_pages([[f"https://x.example/{p['q']}"]])(p, h)
    rc = stage.main(["--dataset-dir", str(paths.root), "--base-url", server.url,
                     "--query", "one", "--query", "two", "--max-results", "5"])
    assert rc == 0 and "2 new" in capsys.readouterr().out
    assert manifest_urls(paths) == ["https://x.example/one", "https://x.example/two"]


def test_unknown_provider_and_missing_query_are_user_errors(paths):
    with pytest.raises(UserError, match="unknown provider"):
        stage.run(cfg(provider="bing"), paths)
    with pytest.raises(UserError, match="query"):
        stage.run(cfg(base_url="http://127.0.0.1:9"), paths)


# --- URL rules, dedup, incremental ---------------------------------------------------------------------

def test_canonical_dedup_across_queries(server, paths):
    answers = {"a": ["https://Stories.example/tale?utm_source=feed&id=3#comments", "https://stories.example/x"],
               "b": ["https://stories.example/tale?id=3", "https://stories.example:443/x#top"]}
    server.routes["/search"] = lambda p, h: searxng_pages([answers[p["q"]]])(p, h)
    counts = stage.run(cfg(base_url=server.url, query=["a", "b"]), paths)
    assert counts["new"] == 2 and counts["known"] == 2
    assert manifest_urls(paths) == ["https://stories.example/tale?id=3", "https://stories.example/x"]
    assert UrlManifest(paths).get("https://stories.example/tale?id=3")["query"] == "a"  # first finder kept


def test_allowed_and_blocked_domains(server, paths):
    urls = ["https://a.example/1", "https://blog.a.example/2", "https://b.example/3", "https://bad.a.example/4",
            "https://nota.example/5"]
    server.routes["/search"] = searxng_pages([urls])
    counts = stage.run(cfg(base_url=server.url, query=["q"], allowed_domains=["a.example", "b.example"],
                           blocked_domains=["bad.a.example"]), paths)
    assert manifest_urls(paths) == urls[:3]
    assert counts["blocked"] == 2 and counts["new"] == 3


def test_domain_rules_units():
    rules = DomainRules(["https://www.Example.com/"], ["ads.example.com"])
    assert rules.allows("http://example.com/a") and rules.allows("http://www.example.com/a")
    assert rules.allows("http://sub.example.com/a") and not rules.allows("http://ads.example.com/a")
    assert not rules.allows("http://badexample.com/") and not rules.allows("http://example.com.evil.org/")
    assert http_url("javascript:alert(1)") is None and http_url("/relative") is None and http_url(None) is None


def test_second_run_adds_nothing(server, paths):
    server.routes["/search"] = searxng_pages([site(4)])
    first = stage.run(cfg(base_url=server.url, query=["q"]), paths)
    lines = manifest_lines(paths)
    second = stage.run(cfg(base_url=server.url, query=["q"]), paths)
    assert first["new"] == 4 and second["new"] == 0 and second["known"] == 4
    assert manifest_lines(paths) == lines


def test_torn_manifest_tail_tolerated(server, paths):
    paths.metadata.mkdir(parents=True)
    good = json.dumps({"url": "https://stories.example/s0", "status": "fetched", "attempts": 1})
    (paths.metadata / MANIFEST_NAME).write_text(good + "\n" + '{"url": "https://stories.example/s1", "sta',
                                                encoding="utf-8")
    server.routes["/search"] = searxng_pages([site(3)])
    counts = stage.run(cfg(base_url=server.url, query=["q"]), paths)
    assert counts["known"] == 1 and counts["new"] == 2  # s0 known (fetched), s1 (torn) and s2 new
    lines = manifest_lines(paths)
    assert all(isinstance(json.loads(ln), dict) for ln in lines)
    assert UrlManifest(paths).get("https://stories.example/s0")["status"] == "fetched"
    assert len(manifest_urls(paths)) == 3


# --- urls provider -------------------------------------------------------------------------------------

def test_urls_file_with_comments_blank_and_invalid_lines(tmp_path, paths):
    f = tmp_path / "seeds.txt"
    f.write_text("# my seeds\n\nhttps://a.example/one  # first\nhttps://a.example/two#part\n"
                 "ftp://a.example/file\nnot a url\n/relative/path\n   https://a.example/one?utm_medium=x\n"
                 "https://a.example/three\n", encoding="utf-8")
    counts = stage.run(cfg(provider="urls", urls_file=str(f)), paths)
    assert manifest_urls(paths) == ["https://a.example/one", "https://a.example/two", "https://a.example/three"]
    assert counts["skipped"] == 3 and counts["known"] == 1 and counts["new"] == 3
    assert UrlManifest(paths).get("https://a.example/one")["provider"] == "urls"
    assert read_urls_file(f) == ["https://a.example/one", "https://a.example/two#part",
                                 "https://a.example/one?utm_medium=x", "https://a.example/three"]


def test_urls_file_missing_is_user_error(tmp_path, paths):
    with pytest.raises(UserError, match="not found"):
        stage.run(cfg(provider="urls", urls_file=str(tmp_path / "nope.txt")), paths)
    with pytest.raises(UserError, match="urls_file"):
        stage.run(cfg(provider="urls"), paths)


def test_each_page_is_on_disk_before_the_next_request(server, paths):
    on_disk = []

    def route(params, headers):
        on_disk.append(len(manifest_lines(paths)))  # what a kill at this moment would leave
        return searxng_pages([site(2, "a"), site(3, "b")])(params, headers)
    server.routes["/search"] = route
    stage.run(cfg(base_url=server.url, query=["q"], max_results=0), paths)
    assert on_disk == [0, 2, 5]
