"""The ways fetching a URL can end badly: rejected (a decision, final) or failed (an error, retried later).

`FetchRejected.reason` is a stable snake_case code that goes to the manifest's `reason` field:
`robots`, `bad_scheme`, `bad_url`, `private_host`, `content_type`, `too_large`, `too_many_redirects`,
`js_no_browser`. `FetchFailed` covers network errors, timeouts and HTTP errors that outlived the
retries; the URL stays eligible on later runs until `max_attempts`.

For page 2 onwards of a multi-page story, `is_temporary` sorts an error into "keep the pages so far and stop
for good" (permanent: a rejection, a 4xx) or "keep the pages so far and go on from here on a later run"
(temporary: 5xx, 408, 429, network errors, timeouts); `stop_reason` names it for the manifest's `stop_reason`.
"""

from __future__ import annotations

TEMPORARY_HTTP = (408, 425, 429)  # 4xx answers that say "later", not "never"


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


class StoryPaused(FetchFailed):
    """A temporary error on page k >= 2: pages 1..k-1 are kept on disk and `progress` says how to go on."""

    def __init__(self, message: str, http_status: int | None, progress, reason: str):
        super().__init__(message, http_status)
        self.progress, self.reason = progress, reason


def is_temporary(error: Exception) -> bool:
    """True when a later run may well succeed where `error` happened (see the module docstring)."""
    if isinstance(error, FetchRejected):
        return False
    status = getattr(error, "http_status", None)
    return status is None or status >= 500 or status in TEMPORARY_HTTP


def stop_reason(error: Exception) -> str:
    """Snake_case code of why a story stopped at a page: a rejection reason, `http_<status>`, `timeout`,
    `network_error` or `error` (anything unexpected)."""
    if isinstance(error, FetchRejected):
        return error.reason
    status = getattr(error, "http_status", None)
    if status is not None:
        return f"http_{status}"
    if isinstance(error, FetchFailed):
        text = str(error).lower()
        return "timeout" if "timeout" in text or "timed out" in text else "network_error"
    return "error"


def one_line(text: object, limit: int = 300) -> str:
    """An error message squeezed onto one line (manifest `error` fields are one line)."""
    return " ".join(str(text).split())[:limit]
