"""Fetching over HTTP against local servers: robots.txt, retries, redirects, safety, limits, charsets."""

import time

import pytest
import requests
from requests.adapters import HTTPAdapter

from scraper.fetch.charset import decode_html
from scraper.fetch.errors import FetchFailed, FetchRejected
from scraper.fetch.http import HttpClient, backoff_wait, retry_after_seconds
from scraper.fetch.politeness import HostGate
from scraper.fetch.robots import parse_robots, rules_for_response
from scraper.fetch.safety import check_url, is_public_address
from tests.test_fetch_site import HTML, Site, test_config

PAGE = "<html><body><p>A short page about a lighthouse.</p></body></html>"


def client(**overrides) -> HttpClient:
    return HttpClient(test_config(**overrides))


# -- robots.txt -------------------------------------------------------------------------------------------------
def test_robots_allowed_and_disallowed_url_never_requested():
    with Site() as site:
        site.page("/robots.txt", "User-agent: *\nDisallow: /private/\n", headers={"Content-Type": "text/plain"})
        site.page("/stories/a", PAGE)
        site.page("/private/b", PAGE)
        c = client()
        assert "lighthouse" in c.get_html(site.url("/stories/a")).html
        with pytest.raises(FetchRejected) as e:
            c.get_html(site.url("/private/b"))
        assert e.value.reason == "robots"
        assert site.hits("/private/b") == 0
        assert site.hits("/robots.txt") == 1  # cached per host


def test_robots_404_allows_everything():
    with Site() as site:
        site.page("/a", PAGE)
        assert client().get_html(site.url("/a")).http_status == 200
        assert site.hits("/robots.txt") == 1


def test_robots_500_disallows_everything():
    with Site() as site:
        site.page("/robots.txt", "oops", status=500)
        site.page("/a", PAGE)
        with pytest.raises(FetchRejected) as e:
            client().get_html(site.url("/a"))
        assert e.value.reason == "robots" and site.hits("/a") == 0


def test_robots_unreachable_disallows():
    assert rules_for_response(None, "", "bot").allows("http://x/a") is False
    assert rules_for_response(503, "", "bot").allows("http://x/a") is False
    assert rules_for_response(429, "", "bot").allows("http://x/a") is False
    assert rules_for_response(403, "", "bot").allows("http://x/a") is True


def test_robots_matching_longest_rule_wildcards_and_agent_groups():
    text = ("User-agent: *\nDisallow: /\n\n"
            "User-agent: Miniature-Memory\nUser-agent: otherbot\nDisallow: /stories/\nAllow: /stories/public\n"
            "Disallow: /*.pdf$\nCrawl-delay: 1.5\n")
    rules = parse_robots(text, "miniature-memory")
    assert rules.allows("http://h/about")  # our group replaces the * group
    assert not rules.allows("http://h/stories/x")
    assert rules.allows("http://h/stories/public/1")  # longer allow wins
    assert not rules.allows("http://h/files/a.pdf") and rules.allows("http://h/files/a.pdf?x=1")
    assert rules.allows("http://h/robots.txt")
    assert rules.crawl_delay == 1.5
    other = parse_robots(text, "somebody")
    assert not other.allows("http://h/about")
    tie = parse_robots("User-agent: *\nDisallow: /a\nAllow: /a\n", "x")
    assert tie.allows("http://h/a")  # allow wins a tie
    assert parse_robots("Disallow: /\n", "x").allows("http://h/a")  # rules outside any group are ignored


def test_crawl_delay_spaces_requests():
    with Site() as site:
        site.page("/robots.txt", "User-agent: *\nCrawl-delay: 0.3\n", headers={"Content-Type": "text/plain"})
        for p in ("/a", "/b", "/c"):
            site.page(p, PAGE)
        c = client(delay=0.0)
        for p in ("/a", "/b", "/c"):
            c.get_html(site.url(p))
        times = [t for t, p in site.log if p != "/robots.txt"]
        gaps = [b - a for a, b in zip(times, times[1:])]
        assert len(gaps) == 2 and min(gaps) >= 0.28, gaps


def test_configured_delay_spaces_requests_and_zero_does_not():
    with Site() as site:
        site.page("/a", PAGE)
        site.page("/b", PAGE)
        c = client(delay=0.25)
        start = time.monotonic()
        c.get_html(site.url("/a"))
        c.get_html(site.url("/b"))
        assert site.times("/b")[0] - site.times("/a")[0] >= 0.24
        assert time.monotonic() - start < 3


# -- retries ---------------------------------------------------------------------------------------------------
def test_retries_503_then_success():
    with Site() as site:
        site.add("/flaky", lambda n: (503, {}, b"busy") if n <= 2 else (200, HTML, PAGE))
        page = client(max_retries=3).get_html(site.url("/flaky"))
        assert page.http_status == 200 and site.hits("/flaky") == 3


def test_retries_give_up_with_failed():
    with Site() as site:
        site.add("/down", lambda n: (500, {}, b"down"))
        with pytest.raises(FetchFailed) as e:
            client(max_retries=2).get_html(site.url("/down"))
        assert e.value.http_status == 500 and site.hits("/down") == 3


def test_retry_after_is_honoured_and_capped():
    with Site() as site:
        site.add("/slow", lambda n: (429, {"Retry-After": "1"}, b"") if n == 1 else (200, HTML, PAGE))
        client(max_retries=1, backoff=0.01, max_retry_wait=0.4).get_html(site.url("/slow"))
        gap = site.times("/slow")[1] - site.times("/slow")[0]
        assert 0.38 <= gap < 0.9, gap  # waited Retry-After, cut to max_retry_wait
    assert backoff_wait(0, "2", 0.1, 10) == 2 and backoff_wait(3, None, 0.5, 10) == 4
    assert backoff_wait(10, None, 1, 5) == 5 and retry_after_seconds("soon") is None
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0  # a date in the past: no wait


# -- redirects and safety --------------------------------------------------------------------------------------
def test_redirect_chain_followed_and_limited():
    with Site() as site:
        for i in range(6):
            site.page(f"/r{i}", "", status=302, headers={"Location": f"/r{i + 1}"})
        site.page("/r6", PAGE)
        page = client(max_redirects=6).get_html(site.url("/r0"))
        assert page.final_url == site.url("/r6") and page.url == site.url("/r0")
        with pytest.raises(FetchRejected) as e:
            client(max_redirects=3).get_html(site.url("/r0"))
        assert e.value.reason == "too_many_redirects"


class LocalAdapter(HTTPAdapter):
    """Sends requests for made-up public host names to the local test server instead."""

    def __init__(self, port: int):
        super().__init__()
        self.port = port

    def send(self, request, **kwargs):
        host = request.url.split("/")[2]
        request.url = request.url.replace(f"http://{host}", f"http://127.0.0.1:{self.port}", 1)
        return super().send(request, **kwargs)


def fake_resolver(host: str) -> list[str]:
    return {"public.test": ["93.184.216.34"], "evil.test": ["127.0.0.1"],
            "mixed.test": ["93.184.216.34", "10.0.0.5"]}[host]


def test_redirect_into_private_address_refused_without_the_flag():
    with Site() as site:
        site.page("/go-ip", "", status=302, headers={"Location": f"http://127.0.0.1:{site.port}/secret"})
        site.page("/go-name", "", status=301, headers={"Location": "http://evil.test/secret"})
        site.page("/fine", PAGE)
        site.page("/secret", "<html><body>internal</body></html>")
        session = requests.Session()
        session.mount("http://public.test", LocalAdapter(site.port))
        session.mount("http://evil.test", LocalAdapter(site.port))
        c = HttpClient(test_config(allow_private_hosts=False), session=session, resolver=fake_resolver)
        assert "lighthouse" in c.get_html("http://public.test/fine").html
        for start in ("/go-ip", "/go-name"):
            with pytest.raises(FetchRejected) as e:
                c.get_html("http://public.test" + start)
            assert e.value.reason == "private_host"
        assert site.hits("/go-ip") == 1 and site.hits("/go-name") == 1
        assert site.hits("/secret") == 0  # the private hop was never requested
        # With the flag the same redirect is followed.
        c2 = HttpClient(test_config(allow_private_hosts=True), session=session, resolver=fake_resolver)
        assert "internal" in c2.get_html("http://public.test/go-name").html


def test_safety_checks_schemes_and_addresses():
    for bad in ("ftp://example.com/a", "file:///etc/passwd", "javascript:alert(1)"):
        with pytest.raises(FetchRejected) as e:
            check_url(bad, allow_private=True, resolver=fake_resolver)
        assert e.value.reason == "bad_scheme"
    for private in ("http://127.0.0.1/", "http://[::1]/", "http://169.254.169.254/latest", "http://10.1.2.3/",
                    "http://192.168.1.1/", "http://evil.test/", "http://mixed.test/", "http://[::ffff:127.0.0.1]/"):
        with pytest.raises(FetchRejected) as e:
            check_url(private, allow_private=False, resolver=fake_resolver)
        assert e.value.reason == "private_host", private
    check_url("http://public.test/a", allow_private=False, resolver=fake_resolver)
    assert is_public_address("93.184.216.34") and not is_public_address("100.64.0.1")


def test_private_first_url_never_requested():
    with Site() as site:
        site.page("/a", PAGE)
        with pytest.raises(FetchRejected) as e:
            HttpClient(test_config(allow_private_hosts=False)).get_html(site.url("/a"))
        assert e.value.reason == "private_host" and site.log == []


# -- limits ----------------------------------------------------------------------------------------------------
def test_oversize_streamed_body_is_aborted():
    sent = []

    def endless(n):
        def chunks():
            # Up to 100 MB: far more than loopback socket buffers (a few MB) absorb, so only a client that
            # hangs up stops the server before the end.
            for _ in range(100_000):
                sent.append(1)
                yield b"<p>" + b"x" * 1000 + b"</p>"
        return 200, {"Content-Type": "text/html"}, chunks()

    with Site() as site:
        site.add("/big", endless)
        site.page("/declared", "x" * 5000)
        with pytest.raises(FetchRejected) as e:
            client(max_bytes=20_000).get_html(site.url("/big"))
        assert e.value.reason == "too_large"
        assert len(sent) < 100_000  # the client hung up; the server did not get to send it all
        with pytest.raises(FetchRejected) as e:
            client(max_bytes=1000).get_html(site.url("/declared"))  # Content-Length says too big up front
        assert e.value.reason == "too_large"


def test_wrong_content_type_rejected():
    with Site() as site:
        site.page("/file.pdf", b"%PDF-1.4", headers={"Content-Type": "application/pdf"})
        site.page("/data", b'{"a": 1}', headers={"Content-Type": "application/json; charset=utf-8"})
        site.page("/untyped", b"<!doctype html><html><body>hi</body></html>", headers={})
        site.page("/xhtml", b"<html><body>x</body></html>", headers={"Content-Type": "application/xhtml+xml"})
        c = client()
        for path in ("/file.pdf", "/data"):
            with pytest.raises(FetchRejected) as e:
                c.get_html(site.url(path))
            assert e.value.reason == "content_type"
        assert "hi" in c.get_html(site.url("/untyped")).html  # no header but clearly HTML
        assert c.get_html(site.url("/xhtml")).content_type == "application/xhtml+xml"


def test_http_404_fails_without_retries():
    with Site() as site:
        with pytest.raises(FetchFailed) as e:
            client(max_retries=3).get_html(site.url("/missing"))
        assert e.value.http_status == 404 and site.hits("/missing") == 1


# -- charsets --------------------------------------------------------------------------------------------------
TEXT = "Café crème, naïve “quotes” — déjà vu"


def test_charsets_over_http():
    cp1252 = f"<html><body><p>{TEXT}</p></body></html>".encode("cp1252")
    latin1 = "<html><body><p>Café crème naïve</p></body></html>".encode("latin-1")
    meta = (f'<html><head><meta charset="windows-1252"></head><body><p>{TEXT}</p></body></html>').encode("cp1252")
    equiv = ('<html><head><meta http-equiv="Content-Type" content="text/html; charset=iso-8859-1"></head>'
             '<body>Café</body></html>').encode("latin-1")
    with Site() as site:
        site.page("/lying", latin1, headers={"Content-Type": "text/html; charset=utf-8"})
        site.page("/noheader", cp1252, headers={"Content-Type": "text/html"})
        site.page("/meta", meta, headers={"Content-Type": "text/html"})
        site.page("/equiv", equiv, headers={"Content-Type": "text/html"})
        site.page("/bogus", TEXT.encode("utf-8"), headers={"Content-Type": "text/html; charset=x-no-such"})
        site.page("/utf8", TEXT.encode("utf-8"), headers={"Content-Type": "text/html; charset=ISO-8859-1"})
        c = client()
        assert "Café crème naïve" in c.get_html(site.url("/lying")).html
        assert TEXT in c.get_html(site.url("/noheader")).html
        page = c.get_html(site.url("/meta"))
        assert TEXT in page.html and page.charset == "cp1252"
        assert "Café" in c.get_html(site.url("/equiv")).html
        assert TEXT in c.get_html(site.url("/bogus")).html
        assert TEXT in c.get_html(site.url("/utf8")).html  # valid multi-byte UTF-8 beats a latin-1 label


def test_decode_html_never_crashes():
    for body, ctype in [(b"\xff\xfe\x00garbage\x81\x8d", "text/html; charset=utf-8"),
                        (b"\x81\x8d\x8f\x90\x9d", "text/html; charset=windows-1252"),
                        (b'<meta charset="utf-16"><p>x\xff</p>', None), (b"", None),
                        (b"\xef\xbb\xbfhello", "text/html; charset=latin-1"),
                        (b"<p>\xe9</p>", 'text/html; charset="  "')]:
        text, codec = decode_html(body, ctype)
        assert isinstance(text, str) and codec
    assert decode_html(b"\xef\xbb\xbfhello", "text/html; charset=latin-1") == ("hello", "utf-8")


def test_user_agent_sent():
    with Site() as site:
        site.page("/a", PAGE)
        HttpClient(test_config(user_agent="testbot/1.0 (+http://example.org/contact)")).get_html(site.url("/a"))
        assert all(h.get("User-Agent") == "testbot/1.0 (+http://example.org/contact)" for h in site.headers_seen)


def test_host_gate_one_request_at_a_time():
    gate, inside, peak = HostGate(), [0], [0]
    import threading

    def work():
        with gate.turn("h", 0.0):
            inside[0] += 1
            peak[0] = max(peak[0], inside[0])
            time.sleep(0.02)
            inside[0] -= 1

    threads = [threading.Thread(target=work) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert peak[0] == 1


def test_redirect_into_robots_disallowed_area_not_followed():
    with Site() as site:
        site.page("/robots.txt", "User-agent: *\nDisallow: /hidden\n", headers={"Content-Type": "text/plain"})
        site.page("/open", "", status=302, headers={"Location": "/hidden/page"})
        site.page("/hidden/page", PAGE)
        with pytest.raises(FetchRejected) as e:
            client().get_html(site.url("/open"))
        assert e.value.reason == "robots" and "redirect to" in str(e.value)
        assert site.hits("/hidden/page") == 0


NOT_PAGE_CHARSETS = ["undefined", "base64", "rot13", "zip", "uu", "hex", "bz2", "quopri", "idna", "utf-7"]


@pytest.mark.parametrize("label", NOT_PAGE_CHARSETS)
def test_non_text_charset_labels_are_ignored(label):
    """A label naming a codec that is no page encoding decodes like no label: never a failure."""
    good = f'<html><head><meta charset="{label}"></head><body><p>{TEXT}</p></body></html>'.encode("utf-8")
    # Bytes valid in neither UTF-8 nor windows-1252: the last-resort decode used to take the declared label.
    junk = f'<html><head><meta charset="{label}"></head><body><p>caf'.encode() + b"\xe9 \x81\x8d</p></body></html>"
    with Site() as site:
        site.page("/meta", good, headers={"Content-Type": "text/html"})
        site.page("/header", good.replace(label.encode(), b"utf-8"),
                  headers={"Content-Type": f"text/html; charset={label}"})
        site.page("/junk", junk, headers={"Content-Type": f"text/html; charset={label}"})
        c = client()
        for path in ("/meta", "/header"):
            page = c.get_html(site.url(path))
            assert TEXT in page.html and page.charset == "utf-8", path
        page = c.get_html(site.url("/junk"))
        assert "caf" in page.html and page.charset == "utf-8" and "\ufffd" in page.html
