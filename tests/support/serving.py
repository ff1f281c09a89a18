"""The one way the tests' local HTTP servers run: a subclass sets `self.httpd` in __init__, and `with` serves it
from a daemon thread, then shuts it down and closes its socket."""

import threading
from http.server import ThreadingHTTPServer


class ThreadedServer:
    """Base of a test server: `with Server(...) as s:` serves `s.httpd` for the block."""

    httpd: ThreadingHTTPServer

    def __enter__(self):
        self._thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02},
                                        daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self._thread.join(timeout=5)
