"""A stand-in for the data sets' public hosts: a real HTTP server on 127.0.0.1, bounded and self-stopping.

Serves ``/<host>/<path>`` of each canonical URL (the ``WORDEMBED_DATA_MIRROR`` scheme) from bytes built by
the test, and can misbehave on purpose per path: cut a body in half, drop the connection before answering
a given number of times, or serve different bytes. Why a real server: the retry, truncation and
timeout paths of urllib only run against a real socket.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LIFETIME_S = 60.0  # the server stops itself after this long even if a test forgets to


@dataclass
class MirrorState:
    files: dict[str, bytes]  # URL path -> body
    truncate: set[str] = field(default_factory=set)  # paths whose body is cut in half, then the socket closed
    drop: dict[str, int] = field(default_factory=dict)  # path -> how many more requests to drop unanswered
    requests: list[str] = field(default_factory=list)  # every path asked for, in order


def _handler(state: MirrorState) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        timeout = 5  # a stuck client cannot hold a server thread

        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            path = self.path.split("?", 1)[0]
            state.requests.append(path)
            if state.drop.get(path, 0) > 0:
                state.drop[path] -= 1
                self.close_connection = True
                return  # no status line at all: the client sees the connection dropped
            body = state.files.get(path)
            if body is None:
                self.send_error(404, "not on this mirror")
                return
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if path in state.truncate:
                self.wfile.write(body[: len(body) // 2])
                self.wfile.flush()
                self.close_connection = True
                return
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002 (http.server's signature)
            pass

    return Handler


@contextmanager
def serve(state: MirrorState) -> Iterator[str]:
    """Run the stand-in for the ``with`` block; yields its base URL ``http://127.0.0.1:PORT/``."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    stopper = threading.Timer(LIFETIME_S, server.shutdown)
    stopper.daemon = True
    stopper.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        stopper.cancel()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
