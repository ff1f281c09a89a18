"""robots.txt per RFC 9309: fetch once per origin, cache, match the longest rule; plus the Crawl-delay extension.

Status rules (RFC 9309 section 2.3.1): 2xx -> parse the file; 4xx ("unavailable") -> everything allowed;
5xx, 429 or unreachable (network error, timeout) -> everything disallowed for this run. Redirects are followed
by the caller's fetch function (up to 5 hops, each one safety-checked). At most 512 KiB is parsed.

Matching: the group whose user-agent equals our product token (case-insensitive), else the `*` group(s); rules
with `*` wildcards and a `$` end anchor; the longest matching pattern wins and `allow` wins a tie; no match means
allowed; `/robots.txt` itself is always allowed. We do not use urllib.robotparser for matching because it takes
the first matching rule instead of the longest and has no wildcards.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from typing import Callable
from urllib.parse import unquote, urlsplit

MAX_ROBOTS_BYTES = 512 * 1024  # RFC 9309 asks crawlers to parse at least 500 KiB
# fetch(robots_url) -> (HTTP status, body text); status None when the host could not be reached.
RobotsFetcher = Callable[[str], "tuple[int | None, str]"]


@dataclass
class RobotsRules:
    """The rules of one origin that apply to our user agent."""

    rules: list[tuple[str, bool]] = field(default_factory=list)  # (pattern, allow) in file order
    crawl_delay: float | None = None
    disallow_all: bool = False  # robots.txt unreachable (5xx / network error)
    note: str = ""  # why: "404 -> allow all", "503 -> disallow all"...

    def allows(self, url: str) -> bool:
        """True when our agent may fetch `url` (path and query) under these rules."""
        if self.disallow_all:
            return False
        parts = urlsplit(url)
        target = unquote(parts.path or "/") + (f"?{unquote(parts.query)}" if parts.query else "")
        if target == "/robots.txt":
            return True
        best_len, best_allow = -1, True
        for pattern, allow in self.rules:
            if _pattern_regex(pattern).match(target):
                n = len(pattern)
                if n > best_len or (n == best_len and allow):
                    best_len, best_allow = n, allow
        return best_allow


_REGEX_CACHE: dict[str, re.Pattern] = {}


def _pattern_regex(pattern: str) -> re.Pattern:
    """A robots path pattern (`*` any run of characters, trailing `$` end of URL) as an anchored regex."""
    rx = _REGEX_CACHE.get(pattern)
    if rx is None:
        body, anchored = (pattern[:-1], True) if pattern.endswith("$") else (pattern, False)
        text = ".*".join(re.escape(piece) for piece in unquote(body).split("*"))
        rx = re.compile(text + ("$" if anchored else ""), re.DOTALL)
        _REGEX_CACHE[pattern] = rx
    return rx


def product_token(user_agent: str) -> str:
    """`miniature-memory` out of `miniature-memory/0.1 (+https://...)` (lowercase)."""
    return re.split(r"[/\s]", user_agent.strip(), maxsplit=1)[0].lower()


def parse_robots(text: str, agent: str) -> RobotsRules:
    """The rules for product token `agent` (lowercase) out of a robots.txt body."""
    groups: list[tuple[list[str], list[tuple[str, bool]], list[float]]] = []
    in_agents = False  # the previous meaningful line was a user-agent line
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if ":" not in line:
            continue
        key, value = (s.strip() for s in line.split(":", 1))
        key = key.lower()
        if key in ("user-agent", "useragent"):
            if not in_agents:
                groups.append(([], [], []))
            groups[-1][0].append(product_token(value) if value != "*" else "*")
            in_agents = True
            continue
        if not groups:
            continue  # rules before any user-agent line belong to no group
        in_agents = False
        if key in ("allow", "disallow") and value:  # an empty disallow matches nothing
            groups[-1][1].append((value, key == "allow"))
        elif key in ("crawl-delay", "crawldelay"):
            try:
                groups[-1][2].append(max(0.0, float(value)))
            except ValueError:
                pass
    mine = [g for g in groups if agent in g[0]] or [g for g in groups if "*" in g[0]]
    rules = [r for g in mine for r in g[1]]
    delays = [d for g in mine for d in g[2]]
    return RobotsRules(rules=rules, crawl_delay=delays[0] if delays else None)


def rules_for_response(status: int | None, text: str, agent: str) -> RobotsRules:
    """Apply the RFC 9309 status rules to a robots.txt response."""
    if status is None:
        return RobotsRules(disallow_all=True, note="unreachable -> disallow all")
    if 200 <= status < 300:
        rules = parse_robots(text[:MAX_ROBOTS_BYTES], agent)
        rules.note = f"{status} -> parsed"
        return rules
    if status == 429 or status >= 500:
        return RobotsRules(disallow_all=True, note=f"{status} -> disallow all")
    return RobotsRules(note=f"{status} -> allow all")  # 4xx (and odd 1xx/3xx leftovers): no restrictions


def origin_of(url: str) -> str:
    """`scheme://host[:port]`: robots.txt applies per origin."""
    parts = urlsplit(url)
    return f"{parts.scheme.lower()}://{parts.netloc.lower().rsplit('@', 1)[-1]}"


class RobotsCache:
    """robots.txt rules per origin for one run; the first question about an origin fetches its file."""

    def __init__(self, fetch: RobotsFetcher, user_agent: str):
        self.fetch, self.agent = fetch, product_token(user_agent)
        self._rules: dict[str, RobotsRules] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    def rules(self, url: str) -> RobotsRules:
        """The cached rules of `url`'s origin (fetched on first use; one fetch per origin even across threads)."""
        origin = origin_of(url)
        with self._guard:
            lock = self._locks.setdefault(origin, threading.Lock())
        with lock:
            if origin not in self._rules:
                status, text = self.fetch(origin + "/robots.txt")
                self._rules[origin] = rules_for_response(status, text, self.agent)
            return self._rules[origin]

    def allowed(self, url: str) -> bool:
        """True when robots.txt lets our agent fetch `url`."""
        return self.rules(url).allows(url)

    def crawl_delay(self, url: str) -> float | None:
        """The origin's Crawl-delay for our agent, in seconds (None when it sets none)."""
        return self.rules(url).crawl_delay
