"""A fake Anthropic Messages API on 127.0.0.1, for driving the real SDK in tests.

    with FakeAPI() as api:
        api.reply([{"type": "text", "text": "hi"}])
        api.fault(529, "overloaded_error", "Overloaded")
        client = anthropic.Anthropic(base_url=api.url, api_key="test-key", ...)

Each request takes the next queued response; every request is recorded
(`api.requests`: path, headers, raw body bytes, parsed JSON). With the queue
empty the fake answers 400 "no scripted response", which the SDK does not retry
(or, given a `responder`, whatever the responder answers: ScriptedScenario below
plays a whole sprint's scripted turns).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import re
import threading
import time
import tomllib
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable


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
    def __init__(self, model: str = "claude-test", responder: Callable[[Request], Canned] | None = None):
        self.model = model
        self.queue: deque[Canned] = deque()
        self.requests: list[Request] = []
        # Answers a request when the queue is empty (a whole scenario, e.g. ScriptedScenario); called under the lock.
        self.responder = responder
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
                    request = Request(self.path, {k.lower(): v for k, v in self.headers.items()}, raw)
                    fake.requests.append(request)
                    canned = fake.queue.popleft() if fake.queue else None
                    if canned is None and fake.responder is not None:
                        canned = fake.responder(request)
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


# ---------------------------------------------------------------------------------
# A whole sprint, played: storyc's scripted turns as Messages API answers.
#
#     scenario = ScriptedScenario(root / ".storyc/scripts", overloads={("US-001", "builder", 1, 0): 1})
#     with FakeAPI(responder=scenario) as api: ...   # then ANTHROPIC_BASE_URL=api.url
#
# Each request is matched to its story (the prompt's "- Story: US-001 ..." line, or
# Reviewing/Fixing/Validating), its role (the tools offered, checked against the
# system prompt) and its turn (the assistant messages already in `messages`), and
# is answered with that turn of .storyc/scripts/<story>.toml: a text block, a
# tool_use block with a deterministic id, stop_reason tool_use or end_turn. Usage is
# estimated from the request (PromptCache). A request the real API would refuse
# (roles out of order, a tool_use left unanswered, more than 4 breakpoints) gets a
# 400 and is listed in `problems`.

CHARS_PER_TOKEN = 4  # a rough tokenizer: English prose and code average about 4 characters a token
# Tokens of every request that no breakpoint covers (the turn's framing after the last user block):
# the real API reports a few input_tokens even when the whole prompt is cached.
UNCACHED_TAIL = 3
# The documented minimum cacheable prompt length (a prefix shorter than this is never written to the cache).
MIN_CACHEABLE = {"claude-haiku-4-5": 4096, "claude-sonnet-4-5": 1024, "claude-opus-4-5": 4096}
ROLE_OF_TOOLS = {
    ("Bash", "Edit", "Read", "Write"): "builder",
    ("Bash", "Grep", "Read"): "validator",
    ("Glob", "Grep", "Read"): "reviewer",
}
STORY_LINE = re.compile(r"^- (?:Story|Reviewing|Fixing|Validating): (\S+)[^\n]*?(?:\(attempt (\d+) of \d+\))?$", re.M)


def canonical(value: Any) -> str:
    """`value` as compact sorted JSON, cache_control markers left out (they mark a prefix, they are not part of it)."""

    def strip(item: Any) -> Any:
        if isinstance(item, dict):
            return {k: strip(v) for k, v in item.items() if k != "cache_control"}
        if isinstance(item, list):
            return [strip(v) for v in item]
        return item

    return json.dumps(strip(value), sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def tokens(value: Any) -> int:
    text = value if isinstance(value, str) else canonical(value)
    return max(1, math.ceil(len(text) / CHARS_PER_TOKEN))


def top_level_raw(raw: bytes) -> dict[str, bytes]:
    """The exact bytes of each top-level member's value in a JSON object body, as the client sent them."""
    text = raw.decode("utf-8")
    decoder = json.JSONDecoder()
    out: dict[str, bytes] = {}
    i = text.index("{") + 1
    while True:
        while text[i] in " \t\r\n,":
            i += 1
        if text[i] == "}":
            return out
        key, i = decoder.raw_decode(text, i)
        while text[i] in " \t\r\n:":
            i += 1
        _, end = decoder.raw_decode(text, i)
        out[key] = text[i:end].encode("utf-8")
        i = end


@dataclass
class CacheUsage:
    input_tokens: int
    cache_read_input_tokens: int
    cache_creation_input_tokens: int
    prefix_tokens: int  # tools + system: the part every story of a role shares

    @property
    def total(self) -> int:
        return self.input_tokens + self.cache_read_input_tokens + self.cache_creation_input_tokens


class PromptCache:
    """Anthropic's prompt cache, simulated, for usage that behaves like the real thing.

    A request is tools, then system, then messages, block by block. A block with
    cache_control is a breakpoint: the prefix up to it is written to the cache
    (per model), unless it is shorter than the model's minimum. A later request
    reads the longest prefix that was written, at any block boundary (the API
    looks back from each breakpoint). Tokens up to it are cache reads; from there
    to the last breakpoint written, cache writes; the rest is input. Entries
    never expire (a test run is shorter than the 5 minute TTL).
    """

    def __init__(self, minimum: dict[str, int] | None = None):
        self.minimum = minimum or {}
        self.entries: set[str] = set()

    def usage(self, body: dict[str, Any]) -> CacheUsage:
        model = body["model"]
        digest = hashlib.sha256(model.encode())
        points: list[tuple[int, str, bool]] = []  # (tokens so far, prefix digest, is a breakpoint)
        count = 0

        def add(block: Any, tag: str) -> None:
            nonlocal count
            digest.update(f"\x00{tag}\x00{canonical(block)}".encode())
            count += tokens(block)
            points.append((count, digest.hexdigest(), isinstance(block, dict) and "cache_control" in block))

        for tool in body.get("tools") or []:
            add(tool, "tool")
        system = body.get("system") or []
        for block in [{"type": "text", "text": system}] if isinstance(system, str) else system:
            add(block, "system")
        prefix = count
        for message in body["messages"]:
            content = message["content"]
            for block in [{"type": "text", "text": content}] if isinstance(content, str) else content:
                add(block, message["role"])
        read = max((n for n, key, _ in points if key in self.entries), default=0)
        written = [n for n, key, marked in points if marked and n > read and n >= self.minimum.get(model, 0)]
        for n, key, marked in points:
            if marked and n >= self.minimum.get(model, 0):
                self.entries.add(key)
        write = max(written, default=read) - read
        return CacheUsage(count + UNCACHED_TAIL - read - write, read, write, prefix)


@dataclass
class Played:
    """One request the scenario answered, and how."""

    request: Request
    status: int
    story: str | None = None
    role: str | None = None
    attempt: int = 1
    turn: int = 0
    model: str = ""
    usage: dict[str, int] | None = None  # as sent back, on a 200
    prefix_tokens: int = 0
    stop_reason: str | None = None
    content: list[dict[str, Any]] | None = None  # the assistant message's blocks, on a 200


class ScriptedScenario:
    """A FakeAPI responder that plays `scripts_dir`'s turns (see the comment above).

    `overloads` maps (story, role, attempt, turn) to how many 529 overloaded_error
    answers that request gets before the real one (retry-after-ms: 1, so the SDK's
    own retries are quick). `cache` prices the prompt (PromptCache() by default: no
    minimum length, so any marked prefix caches).
    """

    def __init__(self, scripts_dir: Path, *, overloads: dict[tuple[str, str, int, int], int] | None = None, cache: PromptCache | None = None):
        self.scripts_dir = Path(scripts_dir)
        self.overloads = dict(overloads or {})
        self.cache = cache if cache is not None else PromptCache()
        self.played: list[Played] = []
        self.problems: list[str] = []

    def __call__(self, request: Request) -> Canned:
        try:
            return self._answer(request)
        except Exception as exc:  # a bug in the scenario: fail the call loudly, not with a dropped connection
            return self._refuse(Played(request, 400), f"fake scenario crashed: {type(exc).__name__}: {exc}")

    def _refuse(self, played: Played, why: str) -> Canned:
        self.problems.append(why)
        played.status = 400
        self.played.append(played)
        body = {"type": "error", "error": {"type": "invalid_request_error", "message": why}}
        return Canned(400, json.dumps(body).encode(), {"content-type": "application/json", "x-should-retry": "false"})

    def _answer(self, request: Request) -> Canned:
        body = request.json
        played = Played(request, 200, model=body.get("model", ""))
        messages = body.get("messages") or []
        first = messages[0]["content"] if messages else ""
        first_text = first if isinstance(first, str) else "\n".join(b.get("text", "") for b in first if b.get("type") == "text")
        found = STORY_LINE.search(first_text)
        names = tuple(sorted(tool["name"] for tool in body.get("tools") or []))
        played.role = ROLE_OF_TOOLS.get(names)
        if found is None or played.role is None:
            return self._refuse(played, f"fake: cannot tell the story or role (tools {names}, prompt starts {first_text[:80]!r})")
        played.story, played.attempt = found.group(1), int(found.group(2) or 1)
        system = body.get("system")
        system_text = system if isinstance(system, str) else "".join(b.get("text", "") for b in system or [])
        if f"You are the {played.role.title()} agent" not in system_text:
            return self._refuse(played, f"fake: the tools offered are the {played.role}'s but the system prompt is not: {system_text[:80]!r}")
        if why := self._invalid(body):
            return self._refuse(played, f"fake: {why}")
        played.turn = sum(1 for m in messages if m["role"] == "assistant")
        key = (played.story, played.role, played.attempt, played.turn)
        if self.overloads.get(key, 0) > 0:
            self.overloads[key] -= 1
            played.status = 529
            self.played.append(played)
            error = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
            headers = {"content-type": "application/json", "retry-after-ms": "1", "request-id": f"req_{len(self.played):04d}"}
            return Canned(529, json.dumps(error).encode(), headers)

        content, stop_reason = self._turn(played)
        cached = self.cache.usage(body)
        usage = {
            "input_tokens": cached.input_tokens,
            "output_tokens": tokens(content) + 8,
            "cache_read_input_tokens": cached.cache_read_input_tokens,
            "cache_creation_input_tokens": cached.cache_creation_input_tokens,
        }
        played.usage, played.prefix_tokens, played.stop_reason, played.content = usage, cached.prefix_tokens, stop_reason, content
        self.played.append(played)
        message = {
            "id": f"msg_{len(self.played):04d}",
            "type": "message",
            "role": "assistant",
            "model": played.model,
            "content": content,
            "stop_reason": stop_reason,
            "stop_sequence": None,
            "usage": usage,
        }
        return Canned(200, json.dumps(message).encode(), {"content-type": "application/json", "request-id": f"req_{len(self.played):04d}"})

    def _turn(self, played: Played) -> tuple[list[dict[str, Any]], str]:
        path = self.scripts_dir / f"{re.sub(r'[^A-Za-z0-9._-]', '_', played.story).lstrip('.') or '_'}.toml"
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        turns = data.get("attempt", {}).get(str(played.attempt), {}).get(played.role) or data.get(played.role, [])
        if played.turn >= len(turns):
            return [{"type": "text", "text": "(end of script)" if turns else "(no script)"}], "end_turn"
        turn = turns[played.turn]
        content: list[dict[str, Any]] = []
        if "say" in turn:
            content.append({"type": "text", "text": turn["say"]})
        if "tool" in turn:
            safe = re.sub(r"[^A-Za-z0-9_-]", "_", played.story)
            tool_id = f"toolu_{safe}_{played.role}_{played.attempt}_{played.turn + 1:02d}"
            content.append({"type": "tool_use", "id": tool_id, "name": turn["tool"], "input": turn.get("input", {})})
        return content, turn.get("stop") or ("tool_use" if "tool" in turn else "end_turn")

    @staticmethod
    def _invalid(body: dict[str, Any]) -> str | None:
        """Why the real API would refuse this body with a 400, or None."""
        messages = body.get("messages") or []
        if not messages or messages[0]["role"] != "user":
            return "messages must start with a user message"
        for before, after in itertools.pairwise(messages):
            if before["role"] == after["role"]:
                return f"two {before['role']} messages in a row"
        marks = 0
        for section in (body.get("tools") or [], body.get("system") if isinstance(body.get("system"), list) else []):
            marks += sum(1 for block in section if "cache_control" in block)
        for index, message in enumerate(messages):
            content = message["content"] if isinstance(message["content"], list) else []
            marks += sum(1 for block in content if "cache_control" in block)
            if message["role"] != "assistant":
                continue
            calls = [block["id"] for block in content if block.get("type") == "tool_use"]
            if not calls or index + 1 == len(messages):
                continue
            answer = messages[index + 1]["content"]
            answer = answer if isinstance(answer, list) else []
            results = [block.get("tool_use_id") for block in answer if block.get("type") == "tool_result"]
            if results != calls or any(block.get("type") != "tool_result" for block in answer[: len(results)]):
                return f"tool_use ids {calls} must be answered, first and in order, by tool_result blocks (got {results})"
        if marks > 4:
            return f"{marks} cache_control blocks (at most 4 are allowed)"
        return None
