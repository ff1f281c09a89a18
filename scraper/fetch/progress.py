"""A multi-page story as fetched so far: its kept pages, where it goes on, and the manifest fields it makes.

A story that stops on a temporary error at page k >= 2 keeps pages 1..k-1 on disk (their snapshots are written
as they arrive) and is recorded `failed` with a `resume` field, the JSON form of this object:

    {"next_url": <URL of page k>, "snapshots": [dataset-relative paths of pages 1..k-1],
     "seen": [canonical URLs already fetched (loop guard)], "first_page": {"http_status", "final_url",
     "content_type", "charset"}, "fetch_method": "static" | "browser"}

A later run starts at `next_url`, so pages 1..k-1 are never requested again. A `resume` record that does not
hold together (a snapshot file gone, a field of the wrong type) is ignored and the story starts over at page 1.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from common.paths import DatasetPaths
from scraper.manifest import now_iso, url_problem

FIRST_PAGE_KEYS = ("http_status", "final_url", "content_type", "charset")


@dataclass
class StoryProgress:
    """Pages 1..n of the story at canonical `url` that are kept, and the URL of page n+1 (None: no more)."""

    url: str
    next_url: str | None
    snapshots: list[str] = field(default_factory=list)
    seen: set[str] = field(default_factory=set)
    first_page: dict | None = None
    browser: bool = False  # some page was rendered in the browser

    @property
    def next_page(self) -> int:
        """1-based number of the page `next_url` leads to."""
        return len(self.snapshots) + 1

    def add_page(self, meta: dict, snapshot: str, method: str) -> None:
        """Count one more page kept (`meta`: the FIRST_PAGE_KEYS of that page)."""
        if self.first_page is None:
            self.first_page = {k: meta.get(k) for k in FIRST_PAGE_KEYS}
        self.snapshots.append(snapshot)
        self.browser = self.browser or method == "browser"

    def to_resume(self) -> dict:
        """The manifest's `resume` field (see the module docstring)."""
        return {"next_url": self.next_url, "snapshots": list(self.snapshots), "seen": sorted(self.seen),
                "first_page": dict(self.first_page or {}),
                "fetch_method": "browser" if self.browser else "static"}

    @classmethod
    def from_resume(cls, url: str, data: object, paths: DatasetPaths) -> StoryProgress | None:
        """The progress a `resume` field describes, or None when it cannot be trusted (start over)."""
        if not isinstance(data, dict):
            return None
        next_url, snaps, seen, first = (data.get(k) for k in ("next_url", "snapshots", "seen", "first_page"))
        if not isinstance(next_url, str) or url_problem(next_url) is not None:
            return None
        if not isinstance(snaps, list) or not snaps or not all(isinstance(s, str) for s in snaps):
            return None
        if not isinstance(seen, list) or not all(isinstance(s, str) for s in seen) or not isinstance(first, dict):
            return None
        root = paths.root.resolve()
        for rel in snaps:
            path = (root / rel).resolve()
            if root not in path.parents or not path.is_file():
                return None  # a kept page is gone (or the record points outside the dataset): start over
        return cls(url=url, next_url=next_url, snapshots=list(snaps), seen=set(seen),
                   first_page={k: first.get(k) for k in FIRST_PAGE_KEYS},
                   browser=data.get("fetch_method") == "browser")

    def story_fields(self, stopped_at: int | None = None, reason: str | None = None,
                     error: str | None = None) -> dict:
        """Manifest fields of a `fetched` event for the pages kept; complete unless `stopped_at` is given."""
        first = self.first_page or {}
        return {"http_status": first.get("http_status"), "final_url": first.get("final_url"),
                "fetch_method": "browser" if self.browser else "static",
                "content_type": first.get("content_type"), "charset": first.get("charset"),
                "snapshots": list(self.snapshots), "pages": len(self.snapshots), "fetched_at": now_iso(),
                "error": None, "reason": None, "complete": stopped_at is None, "stopped_at_page": stopped_at,
                "stop_reason": reason, "stop_error": error, "resume": None}
