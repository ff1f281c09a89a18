"""The two ways fetching a URL can end badly: rejected (a decision, final) or failed (an error, retried later).

`FetchRejected.reason` is a stable snake_case code that goes to the manifest's `reason` field:
`robots`, `bad_scheme`, `bad_url`, `private_host`, `content_type`, `too_large`, `too_many_redirects`,
`js_no_browser`. `FetchFailed` covers network errors, timeouts and HTTP errors that outlived the
retries; the URL stays eligible on later runs until `max_attempts`.
"""

from __future__ import annotations


class FetchRejected(Exception):
    """The URL must not (or cannot usefully) be fetched: `reason` code, one-line message, maybe an HTTP status."""

    def __init__(self, reason: str, message: str, http_status: int | None = None):
        super().__init__(message)
        self.reason, self.http_status = reason, http_status


class FetchFailed(Exception):
    """A network or HTTP error after all retries: one-line message, maybe an HTTP status."""

    def __init__(self, message: str, http_status: int | None = None):
        super().__init__(message)
        self.http_status = http_status


def one_line(text: object, limit: int = 300) -> str:
    """An error message squeezed onto one line (manifest `error` fields are one line)."""
    return " ".join(str(text).split())[:limit]
