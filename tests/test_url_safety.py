"""The private-address guard against URLs that parsers read differently, and against DNS rebinding.

A "secret" server listens on 127.0.0.2 (a private address) and a "public" site on 127.0.0.1 on the same port;
these tests count 127.0.0.1 as public (monkeypatched `is_public_address`) so the guard stays on while every
connection stays local. Each bypass URL form reaches the fetcher as a redirect, a next-page link, a crawl link
or a sitemap entry; the secret server must never be asked and its text must land nowhere on disk.
"""

from __future__ import annotations

import gzip
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests
import urllib3.util
from hypothesis import given, settings
from hypothesis import strategies as st

from common.paths import DatasetPaths
from scraper.fetch import safety
from scraper.fetch.errors import FetchFailed, FetchRejected
from scraper.fetch.http import HttpClient
from scraper.fetch.safety import SafetyCheck, check_url, parse_target
from scraper.manifest import UrlManifest
from scripts import fetch as fetch_stage
from scripts import search as search_stage
from tests.test_fetch_site import Site, long_story, story_html, test_config
from tests.support.serving import ThreadedServer

SECRET = "TOPSECRET-7f3a internal payroll"


class SecretServer(ThreadedServer):
    """Answers every path on 127.0.0.2:`port` with the secret page; counts requests."""

    def __init__(self, port: int):
        self.hits: list[str] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (http.server's naming)
                owner.hits.append(self.path)
                body = (f"<html><body><p>{SECRET}</p><a href='/secret-link'>more</a>"
                        f"<loc>http://127.0.0.1/secret-sitemap-page</loc></body></html>").encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.2", port), Handler)


@pytest.fixture
def local_is_public(monkeypatch):
    """127.0.0.1 counts as a public address (the test's "public" site); everything else as usual."""
    real = safety.is_public_address
    monkeypatch.setattr(safety, "is_public_address", lambda a: a == "127.0.0.1" or real(a))


def bypass_urls(port: int) -> list[str]:
    """URL forms that reach 127.0.0.2 through a parser disagreement or a resolver quirk."""
    return [
        f"http://127.0.0.2:{port}\\secret@127.0.0.1:{port}/",  # urlsplit: 127.0.0.1, urllib3: 127.0.0.2
        f"http://127.0.0.2:{port}\\@127.0.0.1:{port}/story",
        f"http://127.0.0.1:{port}@127.0.0.2:{port}/",  # user info
        f"http://2130706434:{port}/",  # decimal 127.0.0.2
        f"http://0x7f.0.0.2:{port}/",  # hex
        f"http://0177.0.0.2:{port}/",  # octal
        f"http://127.2:{port}/",  # short form
        f"http://%31%32%37.0.0.2:{port}/",  # percent-encoded host
        f"http://127.0.0.2\t:{port}/",  # a tab urlsplit drops
    ]


def test_check_url_refuses_the_reported_bypass():
    url = "http://127.0.0.1:18082\\secret@public.example/"
    with pytest.raises(FetchRejected) as e:
        check_url(url, allow_private=False, resolver=lambda host: ["93.184.216.34"])
    assert e.value.reason == "bad_url"


TRICKY = [
    "http://127.0.0.1:18082\\secret@public.example/", "http://public.example\\@127.0.0.1/",
    "http://user@127.0.0.1/", "http://public.example@127.0.0.1/", "http://2130706433/", "http://0x7f.1/",
    "http://0177.0.0.1/", "http://127.1/", "http://0/", "http://1.2.3.4.5/", "http://[::1%25eth0]/",
    "http://127.0.0.1%2f@x/", "http://%31%32%37.0.0.1/", "http://ex%41mple.com/", "http://pub lic.example/",
    "http://public.example\t.x/", "http://a.example\n@127.0.0.1/", "http:/\\127.0.0.1/", "http:\\\\127.0.0.1/",
    "http://127.0.0.1:18082/\\@public.example/", "http://public.example:99999/", "http://public.example:+80/",
    "http://127。0。0。1/", "http://１２７.0.0.1/", "ftp://example.com/", "file:///etc/passwd", "javascript:x",
    "gopher://127.0.0.1:6379/_x", "http://[::ffff:127.0.0.1]/", "http://127.0.0.1:18082#@public.example/",
    "http://127.0.0.1:18082?@public.example/", "HTTP://Public.Example:80/a b", "http://bücher.example/p?q=ä",
    "http://example.com./", "http://[::1]:80/", "https://example.com:8443/x?y=\\z", "http://example.com:/",
]


def connect_host(url: str) -> str:
    """The host urllib3 (and so requests) would connect to for `url`."""
    return (urllib3.util.parse_url(parse_target(url).url).host or "").strip("[]").lower()


def test_parsers_agree_on_every_url_that_passes():
    refused = 0
    for url in TRICKY:
        try:
            target = parse_target(url)
        except FetchRejected:
            refused += 1
            continue
        raw_urllib3 = (urllib3.util.parse_url(url).host or "").strip("[]").lower()
        assert target.host == connect_host(url) == raw_urllib3 or not url.isascii(), url
    assert refused >= 25
    for url in ("http://127.0.0.1:18082\\secret@public.example/", "http://2130706433/", "http://0x7f.1/",
                "http://user@127.0.0.1/", "http://%31%32%37.0.0.1/", "http://[::1%25eth0]/", "http://127.1/"):
        with pytest.raises(FetchRejected) as e:
            parse_target(url)
        assert e.value.reason == "bad_url", url
    for url in ("ftp://example.com/", "file:///etc/passwd", "gopher://127.0.0.1:6379/_x"):
        with pytest.raises(FetchRejected) as e:
            parse_target(url)
        assert e.value.reason == "bad_scheme", url
    assert parse_target("http://bücher.example/p?q=ä").host == "xn--bcher-kva.example"
    assert parse_target("http://example.com/a b").url == "http://example.com/a%20b"  # spaces in paths are fine


PIECES = st.sampled_from(["127.0.0.1", "public.example", "\\", "@", ":", "/", "?", "#", "%", "%2f", "%31", ".",
                          "[", "]", "::1", "0x7f", "2130706433", "18082", " ", "\t", "a", "user", "%25"])


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(["http://", "https://", "http:/", "http:\\\\", "HTTP://"]), st.lists(PIECES, max_size=8))
def test_any_url_that_passes_is_read_the_same_by_both_parsers(prefix, pieces):
    url = prefix + "".join(pieces)
    try:
        target = parse_target(url)
    except FetchRejected:
        return
    assert target.host == connect_host(url)
    assert target.host == (urllib3.util.parse_url(url).host or "").strip("[]").lower()


def test_every_bypass_redirect_is_refused_and_never_connects(local_is_public):
    with Site() as site, SecretServer(site.port) as secret:
        starts = []
        for i, target in enumerate(bypass_urls(site.port)):
            site.page(f"/go{i}", "", status=302, headers={"Location": target})
            starts.append(site.url(f"/go{i}"))
        c = HttpClient(test_config(allow_private_hosts=False))
        for start in starts:
            with pytest.raises((FetchRejected, FetchFailed)) as e:
                c.get_html(start)
            assert "redirect to" in str(e.value)
        assert secret.hits == []
        # The guard is on: a plain private address is refused too, and the public site is reachable.
        with pytest.raises(FetchRejected) as e:
            c.get_html(f"http://127.0.0.2:{site.port}/")
        assert e.value.reason == "private_host"
        site.page("/fine", "<html><body><p>public page</p></body></html>")
        assert "public page" in c.get_html(site.url("/fine")).html
        assert secret.hits == []


def test_connection_goes_to_the_checked_address_dns_rebinding(local_is_public):
    answers = {"rebind.test": [["127.0.0.1"], ["127.0.0.2"]]}
    asked = []

    def rebinding_resolver(host: str) -> list[str]:
        asked.append(host)  # first answer public, every later one private
        return answers[host][0] if asked.count(host) == 1 else answers[host][1]

    with Site() as site, SecretServer(site.port) as secret:
        site.page("/a", "<html><body><p>page a</p></body></html>")
        site.page("/b", "<html><body><p>page b</p></body></html>")
        c = HttpClient(test_config(allow_private_hosts=False), resolver=rebinding_resolver)
        assert "page a" in c.get_html(f"http://rebind.test:{site.port}/a").html
        assert "page b" in c.get_html(f"http://rebind.test:{site.port}/b").html
        assert asked == ["rebind.test"]  # resolved once; the connection never asked DNS again
        assert secret.hits == []
        assert all(h.get("Host") == f"rebind.test:{site.port}" for h in site.headers_seen)


def test_safety_check_pins_and_refuses_private_answers():
    check = SafetyCheck(False, resolver=lambda host: {"a.test": ["10.0.0.1"], "b.test": ["2001:db8::1",
                                                                                        "93.184.216.34"]}[host])
    with pytest.raises(FetchRejected) as e:
        check("http://a.test/")
    assert e.value.reason == "private_host"
    with pytest.raises(FetchRejected):  # 2001:db8::/32 is documentation space, not public
        check("http://b.test/")
    ok = SafetyCheck(False, resolver=lambda host: ["2606:4700::1", "93.184.216.34"])
    assert ok.addresses("c.test") == ["93.184.216.34", "2606:4700::1"]  # IPv4 first


def all_bytes_under(root) -> bytes:
    """Every file under `root`, gzip files decompressed, concatenated."""
    out = []
    for p in sorted(root.rglob("*")):
        if p.is_file():
            data = p.read_bytes()
            if data[:2] == b"\x1f\x8b":
                data = gzip.decompress(data)
            out.append(data)
    return b"\n".join(out)


def test_fetch_stage_end_to_end_secret_lands_nowhere(tmp_path, local_is_public):
    paths = DatasetPaths.at(tmp_path / "ds")
    with Site() as site, SecretServer(site.port) as secret:
        urls = []
        for i, target in enumerate(bypass_urls(site.port)):
            site.page(f"/go{i}", "", status=302, headers={"Location": target})
            urls.append(site.url(f"/go{i}"))
        # A story whose "next part" link is a bypass URL on the same (apparent) host.
        nxt = f"http://127.0.0.2:{site.port}\\x@127.0.0.1:{site.port}/story/2"
        site.page("/story/1", story_html("Harbour", long_story("Ann"),
                                         extra="") .replace("</article>", f'<a rel="next" href="{nxt}">Next</a>'
                                                                          "</article>"))
        urls.append(site.url("/story/1"))
        with UrlManifest(paths) as m:
            for url in urls:
                m.discover(url, query="test", provider="urls")
        fetch_stage.run(test_config(allow_private_hosts=False), paths)
        assert secret.hits == []
    assert SECRET.encode() not in all_bytes_under(paths.root)
    states = {e["url"]: e for e in UrlManifest(paths).entries()}
    assert all(states[u]["status"] == "rejected" for u in urls[:-1])


def test_crawl_and_sitemap_never_follow_bypass_links(tmp_path, local_is_public):
    paths = DatasetPaths.at(tmp_path / "ds")
    with Site() as site, SecretServer(site.port) as secret:
        links = "".join(f'<a href="{u}">x</a>' for u in bypass_urls(site.port))
        site.page("/", f"<html><body>{links}<a href='/ok'>ok</a></body></html>")
        site.page("/ok", "<html><body>fine</body></html>")
        locs = "".join(f"<sitemap><loc>{u.replace('&', '&amp;')}</loc></sitemap>" for u in bypass_urls(site.port))
        site.page("/sitemap.xml", f"<?xml version='1.0'?><sitemapindex>{locs}</sitemapindex>",
                  headers={"Content-Type": "application/xml"})
        common = dict(allow_private_hosts=False, crawl_delay=0.0, connect_timeout=3.0, read_timeout=3.0)
        search_stage.run(search_stage.SearchConfig(provider="crawl", base_url=site.url("/"), max_depth=2,
                                                   allowed_domains=["127.0.0.1", "127.0.0.2"], **common), paths)
        search_stage.run(search_stage.SearchConfig(provider="sitemap", base_url=site.url("/sitemap.xml"),
                                                   **common), paths)
        assert site.hits("/ok") == 1  # the crawl ran
        assert secret.hits == []
    recorded = [e["url"] for e in UrlManifest(paths).entries()]
    assert not any("secret" in u for u in recorded)


def make_cert(tmp_path, name: str):
    """A self-signed certificate for `name` (openssl CLI), or skip when openssl is missing."""
    import shutil
    import subprocess
    if shutil.which("openssl") is None:
        pytest.skip("no openssl to make a test certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out",
                    str(cert), "-days", "1", "-subj", f"/CN={name}", "-addext", f"subjectAltName=DNS:{name}"],
                   check=True, capture_output=True)
    return cert, key


def test_https_pinned_connection_keeps_sni_and_certificate_checks(tmp_path, local_is_public, monkeypatch):
    import ssl
    for var in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):  # they would override session.verify
        monkeypatch.delenv(var, raising=False)

    from scraper.fetch.http import build_session
    cert, key = make_cert(tmp_path, "secure.test")
    seen_sni = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            body = b"<html><body><p>over tls</p></body></html>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    ctx.sni_callback = lambda sock, name, c: seen_sni.append(name)
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.socket = ctx.wrap_socket(httpd.socket, server_side=True)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    try:
        port = httpd.server_address[1]
        session = build_session("testbot/1.0")
        session.verify = str(cert)
        dns = {"secure.test": ["127.0.0.1"], "other.test": ["127.0.0.1"]}
        c = HttpClient(test_config(allow_private_hosts=False), session=session, resolver=lambda h: dns[h])
        assert "over tls" in c.get_html(f"https://secure.test:{port}/page").html
        assert seen_sni and seen_sni[0] == "secure.test"  # SNI names the host, not the pinned address
        with pytest.raises(requests.exceptions.SSLError):  # same address, another name: certificate mismatch
            c.session.get(f"https://other.test:{port}/page", timeout=3)
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_search_api_redirect_to_a_private_address_is_refused(local_is_public, tmp_path, server):
    """The API's own configured host is trusted; where it redirects to is checked like anything else."""
    from common.config import StageFailed
    from tests.support.search_servers import Reply
    server.routes["/search"] = Reply(302, "", "text/plain", {"Location": f"http://127.0.0.2:{server.port}/search"})
    with SecretServer(server.port) as secret:
        cfg = search_stage.SearchConfig(provider="searxng", base_url=server.url, query=["x"],
                                        connect_timeout=3.0, read_timeout=3.0)
        with pytest.raises(StageFailed) as e:
            search_stage.run(cfg, DatasetPaths.at(tmp_path / "ds"))
        assert "private_host" in str(e.value) and secret.hits == []
        assert len(server.hits("/search")) == 1
