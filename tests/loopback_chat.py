"""A chat-completions server on 127.0.0.1 for driver tests: every POST body goes to a function
that returns the reply, so a test scripts the server in one place (both the input-generation
and the eval driver tests use it)."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Reply = tuple[int, Any]  # HTTP status, JSON body (or raw text, sent as it is)


@contextmanager
def loopback_chat_server(answer: Callable[[dict], Reply]) -> Iterator[str]:
    """Serves `answer` (called under a lock: requests may come concurrently) and yields the
    base URL (`http://127.0.0.1:PORT/v1`); stops the server on exit."""
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            with lock:
                status, reply = answer(body)
            data = reply.encode() if isinstance(reply, str) else json.dumps(reply).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: object) -> None:
            pass

    http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=http.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{http.server_address[1]}/v1"
    finally:
        http.shutdown()
        http.server_close()
