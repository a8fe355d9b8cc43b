"""A real local HTTP receiver for apprise's JSON webhook (``json://127.0.0.1:PORT/path``).

It collects the JSON bodies it is sent. ``hold()`` makes it keep every request open (no answer)
until ``release()``: a slow receiver, observable by condition (``holding``) rather than by time.
``status`` makes it answer an error.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class Receiver:
    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.paths: list[str] = []
        self.status = 200
        self.holding = 0
        self.requests = 0  # every POST, answered with an error or not
        self._gate = threading.Event()
        self._gate.set()
        self._cond = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                with receiver._cond:
                    receiver.requests += 1
                    receiver.holding += 1
                    receiver._cond.notify_all()
                receiver._gate.wait(30)
                with receiver._cond:
                    receiver.holding -= 1
                    if receiver.status == 200:
                        receiver.bodies.append(body)
                        receiver.paths.append(self.path)
                    receiver._cond.notify_all()
                self.send_response(receiver.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:  # quiet
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def url(self, path: str = "hook") -> str:
        return f"json://127.0.0.1:{self.port}/{path}"

    def hold(self) -> None:
        self._gate.clear()

    def release(self) -> None:
        self._gate.set()

    def wait_for(self, predicate: Any, timeout: float = 10.0) -> bool:
        """Wait until ``predicate(self)`` holds (checked on every request event)."""
        with self._cond:
            return self._cond.wait_for(lambda: predicate(self), timeout)

    def titles(self) -> list[str]:
        with self._cond:
            return [b.get("title", "") for b in self.bodies]

    def close(self) -> None:
        self.release()
        self.server.shutdown()
        self.server.server_close()


def fields(body: dict[str, Any]) -> dict[str, str]:
    """The ``key: value`` lines of an alert's message."""
    out = {}
    for line in str(body.get("message", "")).splitlines():
        key, sep, value = line.partition(": ")
        if sep:
            out[key] = value
    return out
