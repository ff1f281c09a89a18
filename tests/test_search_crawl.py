"""Sitemap and crawl providers against a fake site on 127.0.0.1: nested/gzip sitemaps, safe XML, size caps,
depth, page limits, include/exclude patterns, allowed hosts, robots.txt, Crawl-delay, private-host refusal."""

import gzip
import time

import pytest

from common.config import StageFailed, UserError
from scraper.manifest import UrlManifest
from scraper.search.crawl import extract_links
from scraper.search.sitemap import SitemapError, parse_sitemap
from scripts import search as stage
from tests.support.search_servers import FakeServer, Reply, html_page, xml_reply

NS = 'xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"'


def cfg(**kw) -> stage.SearchConfig:
    kw.setdefault("connect_timeout", 5.0)
    kw.setdefault("read_timeout", 5.0)
    kw.setdefault("allow_private_hosts", True)
    kw.setdefault("crawl_delay", 0.0)
    return stage.SearchConfig(**kw)


def manifest_urls(paths) -> list[str]:
    return [e["url"] for e in UrlManifest(paths).entries()]


def urlset(*locs: str) -> str:
    body = "".join(f"<url><loc>{loc}</loc><lastmod>2024-01-01</lastmod></url>" for loc in locs)
    return f'<?xml version="1.0" encoding="UTF-8"?>\n<urlset {NS}>{body}</urlset>'


def index(*locs: str) -> str:
    body = "".join(f"<sitemap><loc>{loc}</loc></sitemap>" for loc in locs)
    return f'<?xml version="1.0" encoding="UTF-8"?>\n<sitemapindex {NS}>{body}</sitemapindex>'


# --- sitemap -------------------------------------------------------------------------------------------

def test_sitemap_urlset_with_include_exclude(server, paths):
    u = server.url
    server.routes["/sitemap.xml"] = xml_reply(urlset(f"{u}/stories/a", f"{u}/stories/b", f"{u}/tag/x",
                                                     f"{u}/stories/c?draft=1"))
    counts = stage.run(cfg(provider="sitemap", base_url=u + "/", crawl_include=["/stories/"],
                           crawl_exclude=["draft="]), paths)
    assert manifest_urls(paths) == [f"{u}/stories/a", f"{u}/stories/b"]
    assert counts["new"] == 2 and counts["sitemaps"] == 1
    assert UrlManifest(paths).get(f"{u}/stories/a")["provider"] == "sitemap"


def test_sitemap_index_nested_and_gzip(server, paths):
    u = server.url
    server.routes["/sm/index.xml"] = xml_reply(index(f"{u}/sm/inner.xml", f"{u}/sm/part2.xml.gz"))
    server.routes["/sm/inner.xml"] = xml_reply(index(f"{u}/sm/part1.xml", f"{u}/sm/index.xml"))  # loop back
    server.routes["/sm/part1.xml"] = xml_reply(urlset(f"{u}/p/1", f"{u}/p/2"))
    server.routes["/sm/part2.xml.gz"] = xml_reply(urlset(f"{u}/p/3", f"{u}/p/2#dup"), gz=True)
    counts = stage.run(cfg(provider="sitemap", base_url=f"{u}/sm/index.xml"), paths)
    assert sorted(manifest_urls(paths)) == [f"{u}/p/1", f"{u}/p/2", f"{u}/p/3"]
    assert counts["sitemaps"] == 4 and counts["known"] == 1
    assert server.paths().count("/sm/index.xml") == 1  # the loop is not followed twice


def test_sitemap_bounds_files_and_urls(server, paths):
    u = server.url
    server.routes["/index.xml"] = xml_reply(index(*[f"{u}/s{i}.xml" for i in range(5)]))
    for i in range(5):
        server.routes[f"/s{i}.xml"] = xml_reply(urlset(*[f"{u}/s{i}/p{j}" for j in range(4)]))
    counts = stage.run(cfg(provider="sitemap", base_url=f"{u}/index.xml", sitemap_max_files=3), paths)
    assert counts["sitemaps"] == 3 and counts["new"] == 8  # index + 2 urlsets
    counts = stage.run(cfg(provider="sitemap", base_url=f"{u}/index.xml", sitemap_max_urls=10), paths)
    assert counts["new"] == 2 and len(manifest_urls(paths)) == 10


def test_sitemap_refuses_entities_and_survives_bad_children(server, paths):
    u = server.url
    evil = ('<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
            f'<urlset {NS}><url><loc>{u}/&x;</loc></url></urlset>')
    server.routes["/evil.xml"] = xml_reply(evil)
    with pytest.raises(StageFailed, match="DOCTYPE"):
        stage.run(cfg(provider="sitemap", base_url=f"{u}/evil.xml"), paths)
    bomb = gzip.compress(b"<urlset>" + b" " * 3_000_000 + b"</urlset>")
    server.routes["/bomb.xml.gz"] = Reply(200, bomb, "application/x-gzip")
    server.routes["/good.xml"] = xml_reply(urlset(f"{u}/ok"))
    server.routes["/junk.xml"] = xml_reply("<urlset><url><loc>unclosed")
    server.routes["/index.xml"] = xml_reply(index(f"{u}/evil.xml", f"{u}/bomb.xml.gz", f"{u}/missing.xml",
                                                  f"{u}/junk.xml", f"{u}/good.xml"))
    counts = stage.run(cfg(provider="sitemap", base_url=f"{u}/index.xml", max_bytes=1_000_000), paths)
    assert manifest_urls(paths) == [f"{u}/ok"] and counts["errors"] == 4


def test_parse_sitemap_plain_text_and_no_namespace():
    assert parse_sitemap(b"https://a.example/1\n\nhttps://a.example/2\n", 1000) == \
        ("text", ["https://a.example/1", "https://a.example/2"])
    assert parse_sitemap(b"<urlset><url><loc> https://a.example/x </loc></url></urlset>", 1000) == \
        ("urlset", ["https://a.example/x"])
    with pytest.raises(SitemapError, match="not a sitemap"):
        parse_sitemap(b"<html><body/></html>", 1000)


def test_sitemap_private_host_refused_without_flag(server, paths):
    server.routes["/sitemap.xml"] = xml_reply(urlset(f"{server.url}/a"))
    with pytest.raises(UserError, match="allow_private_hosts"):
        stage.run(cfg(provider="sitemap", base_url=server.url + "/sitemap.xml", allow_private_hosts=False), paths)
    assert server.requests == []


# --- crawl ---------------------------------------------------------------------------------------------

def build_site(server: FakeServer, robots: str = "User-agent: *\nDisallow: /private/\n") -> None:
    """/ -> /a, /b, /tag/x, /private/p, offsite; /a -> /a/1 (story); /a/1 -> /a/1/deep; /b -> /b/1 (story)."""
    u = server.url
    offsite = f"http://localhost:{server.port}/elsewhere"  # another host name for the same server
    server.routes["/"] = html_page("/a", "b", "/tag/x", "/private/p", offsite, "mailto:me@x.example", "#top")
    server.routes["/a"] = html_page(f"{u}/a/1", "/")
    server.routes["/b"] = html_page("/b/1?utm_source=nav", "/a/1#comments")
    server.routes["/a/1"] = html_page("/a/1/deep")
    server.routes["/b/1"] = html_page()
    server.routes["/a/1/deep"] = html_page()
    server.routes["/tag/x"] = html_page("/tag/y")
    server.routes["/private/p"] = html_page("/private/q")
    server.routes["/robots.txt"] = Reply(200, robots, "text/plain")


def test_crawl_depth_include_exclude_scope_and_robots(server, paths):
    build_site(server)
    u = server.url
    counts = stage.run(cfg(provider="crawl", base_url=u + "/", max_depth=2, crawl_include=[r"/[ab]/\d+$"],
                           crawl_exclude=["/tag/"]), paths)
    assert sorted(manifest_urls(paths)) == [f"{u}/a/1", f"{u}/b/1"]
    fetched = server.paths()
    assert sorted(fetched) == ["/", "/a", "/b"]  # depth-2 pages are recorded, not fetched; /tag/ never
    assert counts["pages"] == 3 and counts["robots"] == 1  # /private/p seen, not fetched, not recorded
    assert all(r.headers["user-agent"].startswith("miniature-memory/") for r in server.requests)
    entry = UrlManifest(paths).get(f"{u}/a/1")
    assert entry["provider"] == "crawl" and "query" not in entry


def test_crawl_records_everything_in_scope_without_include(server, paths):
    build_site(server)
    u = server.url
    stage.run(cfg(provider="crawl", base_url=u + "/", max_depth=3, crawl_exclude=["/tag/"]), paths)
    assert sorted(manifest_urls(paths)) == sorted(f"{u}{p}" for p in ["/", "/a", "/b", "/a/1", "/b/1",
                                                                      "/a/1/deep"])
    assert "/private/p" not in server.paths() and "/elsewhere" not in server.paths()


def test_crawl_max_depth_zero_and_max_pages(server, paths):
    build_site(server)
    u = server.url
    counts = stage.run(cfg(provider="crawl", base_url=u + "/", max_depth=0), paths)
    assert manifest_urls(paths) == [u + "/"] and counts["pages"] == 0 and server.paths() == []
    counts = stage.run(cfg(provider="crawl", base_url=u + "/", max_depth=5, max_pages=2), paths)
    assert counts["pages"] == 2 and server.paths() == ["/", "/a"]


def test_crawl_allowed_domains_widen_scope(server, paths):
    build_site(server)
    u = server.url
    stage.run(cfg(provider="crawl", base_url=u + "/", max_depth=1, allowed_domains=["127.0.0.1", "localhost"]),
              paths)
    assert f"http://localhost:{server.port}/elsewhere" in manifest_urls(paths)


def test_crawl_robots_status_rules(server, paths):
    build_site(server)
    server.routes["/robots.txt"] = Reply(503, "down", "text/plain")
    counts = stage.run(cfg(provider="crawl", base_url=server.url + "/"), paths)
    assert server.paths() == [] and counts["new"] == 0 and counts["robots"] == 1  # 5xx: complete disallow
    del server.routes["/robots.txt"]  # 404: no restrictions
    stage.run(cfg(provider="crawl", base_url=server.url + "/", max_depth=1), paths)
    assert server.paths() == ["/"]


def test_crawl_honours_crawl_delay(server, paths):
    build_site(server, robots="User-agent: *\nCrawl-delay: 1\n")
    start = time.monotonic()
    stage.run(cfg(provider="crawl", base_url=server.url + "/", max_depth=2, max_pages=2), paths)
    assert server.paths() == ["/", "/a"] and time.monotonic() - start >= 0.95


def test_crawl_skips_non_html_oversize_and_failing_pages(server, paths):
    u = server.url
    server.routes["/"] = html_page("/doc.txt", "/big", "/gone", "/fine")
    server.routes["/doc.txt"] = Reply(200, '<a href="/hidden">x</a>', "text/plain")
    server.routes["/big"] = html_page(*["/x"] * 5000)
    server.routes["/fine"] = html_page("/fine/1")
    counts = stage.run(cfg(provider="crawl", base_url=u + "/", max_depth=2, max_bytes=20_000), paths)
    urls = manifest_urls(paths)
    assert f"{u}/fine/1" in urls and f"{u}/hidden" not in urls and f"{u}/x" not in urls
    assert counts["errors"] == 2  # /big too large, /gone 404


def test_crawl_private_seed_refused_without_flag(server, paths):
    build_site(server)
    with pytest.raises(UserError, match="allow_private_hosts"):
        stage.run(cfg(provider="crawl", base_url=server.url + "/", allow_private_hosts=False), paths)
    assert server.requests == []
    rc = stage.main(["--dataset-dir", str(paths.root), "--provider", "crawl", "--base-url", server.url + "/"])
    assert rc == 2


def test_crawl_seeds_from_file_and_second_run_adds_nothing(server, paths, tmp_path):
    build_site(server)
    seeds = tmp_path / "seeds.txt"
    seeds.write_text(f"# seeds\n{server.url}/a\n{server.url}/b\n", encoding="utf-8")
    first = stage.run(cfg(provider="crawl", urls_file=str(seeds), max_depth=1), paths)
    second = stage.run(cfg(provider="crawl", urls_file=str(seeds), max_depth=1), paths)
    assert first["new"] > 0 and second["new"] == 0 and second["known"] == first["new"]


def test_extract_links_resolves_base_and_relative():
    html = '<base href="http://h.example/dir/"><a href="x">1</a><a href="/y">2</a><A HREF="http://o.example/">3</A>'
    assert extract_links(html, "http://h.example/page") == ["http://h.example/dir/x", "http://h.example/y",
                                                             "http://o.example/"]


def test_redirect_into_private_address_refused(server, monkeypatch):
    from scraper.fetch import safety
    from scraper.search import net
    server.routes["/go"] = Reply(302, "", "text/plain", {"Location": "http://intranet.example/secret"})
    server.routes["/loop"] = Reply(302, "", "text/plain", {"Location": "/loop"})
    # The test server's 127.0.0.1 counts as a public address here; the redirect target resolves (fake DNS) to
    # a private one.
    real_public = safety.is_public_address
    monkeypatch.setattr(safety, "is_public_address", lambda a: a == "127.0.0.1" or real_public(a))
    fake_dns = {"intranet.example": ["10.1.2.3"]}
    monkeypatch.setattr(net, "resolve_host", lambda host: fake_dns[host])
    session = net.make_session("test-bot/1.0", resolver=lambda host: fake_dns[host])
    with pytest.raises(net.FetchError) as err:
        net.fetch(session, server.url + "/go", max_bytes=1000, timeout=(2, 2), allow_private=False)
    assert err.value.reason == "private_host" and "10.1.2.3" in str(err.value)
    with pytest.raises(net.FetchError) as err:
        net.fetch(session, server.url + "/loop", max_bytes=1000, timeout=(2, 2), allow_private=False)
    assert err.value.reason == "redirects" and len(server.hits("/loop")) == net.MAX_REDIRECTS + 1


@pytest.mark.parametrize("label", ["undefined", "base64", "rot13", "zip", "uu", "hex"])
def test_crawl_survives_a_non_text_charset(server, paths, label):
    """A page whose Content-Type names a codec that is no text encoding is read as UTF-8, and the crawl goes on."""
    from scraper.search import net
    assert net.decode_body("café".encode("utf-8"), label) == "café"
    assert net.decode_body(b"caf\xe9", label) == "caf\ufffd"
    page = html_page("/a", "/b")
    server.routes["/"] = Reply(200, page.body, f"text/html; charset={label}")
    server.routes["/a"] = Reply(200, "<html><body><a href='/a/1'>1</a></body></html>",
                                f'text/html; charset="{label}"')
    server.routes["/b"] = html_page()
    counts = stage.run(cfg(provider="crawl", base_url=server.url + "/", max_depth=2), paths)
    assert counts["errors"] == 0
    assert {server.url + p for p in ("/", "/a", "/b", "/a/1")} <= set(manifest_urls(paths))
