"""A fake Anthropic Messages API on 127.0.0.1, for driving the real SDK in tests.

    with FakeAPI() as api:
        api.reply([{"type": "text", "text": "hi"}])
        api.fault(529, "overloaded_error", "Overloaded")
        client = anthropic.Anthropic(base_url=api.url, api_key="test-key", ...)

Each request takes the next queued response; every request is recorded
(`api.requests`: path, headers, raw body bytes, parsed JSON). With the queue
empty the fake answers 400 "no scripted response", which the SDK does not retry.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Canned:
    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


@dataclass
class Request:
    path: str
    headers: dict[str, str]
    raw: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.raw)


class FakeAPI:
    def __init__(self, model: str = "claude-test"):
        self.model = model
        self.queue: deque[Canned] = deque()
        self.requests: list[Request] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    # --------------------------------------------------------- scripting answers

    def reply(
        self,
        content: list[dict[str, Any]],
        stop_reason: str = "end_turn",
        usage: dict[str, int] | None = None,
        *,
        delay: float = 0.0,
    ) -> None:
        """Queue one assistant message (a 200 with a Messages API body)."""
        n = len(self.queue) + len(self.requests) + 1
        body = {
            "id": f"msg_{n:04d}",
            "type": "message",
            "role": "assistant",
            "model": self.model,
            "content": content,
            "stop_reason": stop_reason,
            "stop_sequence": None,
            "usage": {"input_tokens": 10, "output_tokens": 5, "cache_read_input_tokens": 0, "cache_creation_input_tokens": 0, **(usage or {})},
        }
        self.queue.append(Canned(200, json.dumps(body).encode(), {"content-type": "application/json"}, delay))

    def fault(self, status: int, error_type: str, message: str, *, error_code: str | None = None, headers: dict[str, str] | None = None) -> None:
        """Queue an API error; retry-after-ms is 1 unless given, so SDK retries take no time."""
        error: dict[str, Any] = {"type": error_type, "message": message}
        if error_code:
            error["details"] = {"error_code": error_code}
        body = json.dumps({"type": "error", "error": error}).encode()
        self.queue.append(Canned(status, body, {"content-type": "application/json", "retry-after-ms": "1", **(headers or {})}))

    def malformed(self) -> None:
        """Queue a 200 whose body is not JSON."""
        self.queue.append(Canned(200, b'{"id": "msg_broken", "type": "mess', {"content-type": "application/json"}))

    def slow(self, seconds: float) -> None:
        """Queue an answer that comes after `seconds` (longer than the client's timeout, say)."""
        self.reply([{"type": "text", "text": "too late"}], delay=seconds)

    # ---------------------------------------------------------------- the server

    @property
    def url(self) -> str:
        assert self._server is not None, "use FakeAPI as a context manager"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def bodies(self) -> list[dict[str, Any]]:
        return [request.json for request in self.requests]

    def __enter__(self) -> FakeAPI:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("content-length", 0)))
                with fake._lock:
                    fake.requests.append(Request(self.path, {k.lower(): v for k, v in self.headers.items()}, raw))
                    canned = fake.queue.popleft() if fake.queue else None
                if canned is None:
                    body = json.dumps({"type": "error", "error": {"type": "invalid_request_error", "message": "fake: no scripted response"}})
                    canned = Canned(400, body.encode(), {"content-type": "application/json", "x-should-retry": "false"})
                time.sleep(canned.delay)
                try:
                    self.send_response(canned.status)
                    for key, value in canned.headers.items():
                        self.send_header(key, value)
                    self.send_header("content-length", str(len(canned.body)))
                    self.end_headers()
                    self.wfile.write(canned.body)
                except (BrokenPipeError, ConnectionResetError):  # the client gave up waiting
                    pass

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._server.block_on_close = False
        threading.Thread(target=self._server.serve_forever, args=(0.02,), name="fakeapi", daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.shutdown()
        self._server.server_close()
