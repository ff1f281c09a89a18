"""robots.txt through scraper.fetch.robots (protego underneath): every RFC 9309 case of bench/robots_cases.py."""

import pytest

from scraper.fetch.robots import MAX_ROBOTS_BYTES, parse_robots, rules_for_response
from bench.robots_cases import CASES


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_rfc9309_case(case):
    name, text, agent, checks, delay = case
    rules = parse_robots(text, agent)
    for path, expected in checks:
        assert rules.allows("https://example.com" + path) is expected, path
    if delay is not None:
        assert rules.crawl_delay == delay


def test_body_past_the_size_limit_is_not_parsed():
    text = "User-agent: *\nDisallow: /early\n" + "#" * MAX_ROBOTS_BYTES + "\nDisallow: /late\n"
    rules = rules_for_response(200, text, "bot")
    assert not rules.allows("https://example.com/early") and rules.allows("https://example.com/late")
    assert rules.note == "200 -> parsed"
