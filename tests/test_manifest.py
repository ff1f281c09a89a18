"""The URL manifest: canonical URLs, latest state per URL, crash-safe appends."""

import pytest

from common.paths import DatasetPaths
from scraper.manifest import UrlManifest, canonical_url


@pytest.mark.parametrize("raw, canon", [
    ("HTTP://Example.COM:80/a//b?utm_source=x&id=3&fbclid=1#frag", "http://example.com/a/b?id=3"),
    ("https://example.com", "https://example.com/"),
    ("https://example.com:443/x?ref=tw", "https://example.com/x"),
    ("https://example.com:8443/x?b=2&a=1", "https://example.com:8443/x?b=2&a=1"),
    ("https://[::1]:8443/x", "https://[::1]:8443/x"),
    ("http://example.com./story?page=2&gclid=zz", "http://example.com/story?page=2"),
])
def test_canonical_url(raw, canon):
    assert canonical_url(raw) == canon


@pytest.mark.parametrize("bad", ["ftp://example.com/x", "javascript:alert(1)", "/relative/path", "http://",
                                 "http://*.localhost:18081/x", "http://[::1", "http://exa mple.com/", "http://a..b/",
                                 "http://h.test:99999/", "http://[::zz]/"])
def test_canonical_url_refuses_non_http(bad):
    with pytest.raises(ValueError):
        canonical_url(bad)


def test_discover_once_and_latest_state_wins(tmp_path):
    paths = DatasetPaths.at(tmp_path / "ds")
    with UrlManifest(paths) as m:
        assert m.discover("https://site.test/a?utm_medium=x", query="q1", provider="searxng")
        assert not m.discover("https://SITE.test/a#top", query="q2", provider="brave")
        m.record("https://site.test/a", "failed", attempts=1, error="timeout")
        m.record("https://site.test/a", "fetched", attempts=2, http_status=200, snapshots=["s/a.html.gz"])
    state = UrlManifest(paths).get("https://site.test/a")
    assert state["status"] == "fetched" and state["attempts"] == 2
    assert state["query"] == "q1" and state["provider"] == "searxng"  # fields from earlier events persist
    assert state["error"] == "timeout"
    assert [e["url"] for e in UrlManifest(paths).entries("fetched")] == ["https://site.test/a"]
    assert UrlManifest(paths).entries("new") == []


def test_torn_last_line_is_ignored_and_cut_before_next_append(tmp_path):
    paths = DatasetPaths.at(tmp_path / "ds")
    with UrlManifest(paths) as m:
        m.discover("https://site.test/1")
    with open(paths.metadata / "urls.jsonl", "ab") as f:
        f.write(b'{"url": "https://site.test/2", "sta')
    with UrlManifest(paths) as m:
        assert [e["url"] for e in m.entries()] == ["https://site.test/1"]
        assert m.discover("https://site.test/2")
    assert [e["url"] for e in UrlManifest(paths).entries("new")] == ["https://site.test/1", "https://site.test/2"]


def test_unknown_status_is_refused(tmp_path):
    with pytest.raises(ValueError):
        UrlManifest(DatasetPaths.at(tmp_path)).record("https://site.test/", "done")


def test_url_problem_is_one_line_and_none_for_good_urls():
    from scraper.manifest import url_problem
    assert url_problem("https://bücher.example/a b?x=1") is None and url_problem("http://[::1]:8080/") is None
    problem = url_problem("http://*.localhost:18081/x")
    assert "*.localhost" in problem and "\n" not in problem


def test_malformed_key_already_in_the_manifest_can_be_recorded(tmp_path):
    paths = DatasetPaths.at(tmp_path / "ds")
    paths.metadata.mkdir(parents=True)
    (paths.metadata / "urls.jsonl").write_text('{"url": "http://[::1", "status": "new"}\n')
    with UrlManifest(paths) as m:
        m.record("http://[::1", "rejected", reason="bad_url")
    assert UrlManifest(paths).entries("rejected")[0]["url"] == "http://[::1"
    with pytest.raises(ValueError):
        UrlManifest(paths).record("http://[::2", "new")  # an unknown malformed URL is still refused
