"""A small OpenAI-compatible chat-completions server for the tests: real HTTP, planned replies, no model.

Each request takes the next planned step: a reply (where "{n}" becomes the number of the passage whose text
holds `cite`), an HTTP error status, a raw body sent as application/json (a malformed reply), or a delay first.
Streaming (`"stream": true`) and plain replies both work, so the real `openai` client can talk to it. Every
request is recorded, headers included.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

_PASSAGE = re.compile(r"^\[(\d+)\] ", re.MULTILINE)


@dataclass
class Step:
    """What the server does for one request."""

    reply: str = "NO_ANSWER"
    cite: str | None = None  # "{n}" in the reply: the passage that holds this text
    trickle: float = 0.0  # seconds between the reply's pieces (a model that keeps its connection busy)
    status: int = 200
    delay: float = 0.0
    raw: bytes | None = None  # sent as is, with status 200 and Content-Type application/json


@dataclass
class ScriptedModelServer:
    """The planned steps, and the requests received (headers, names in lower case, and JSON bodies)."""

    steps: deque[Step] = field(default_factory=deque)
    requests: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    url: str = ""

    def plan(self, *steps: Step) -> None:
        """Replace the plan."""
        with self.lock:
            self.steps = deque(steps)

    def take(self, body: dict[str, Any], headers: dict[str, str]) -> Step:
        with self.lock:
            self.requests.append({"headers": headers, "body": body})
            return self.steps.popleft() if self.steps else Step()


def passage_holding(prompt: str, text: str) -> int:
    """The number of the passage in the prompt whose text holds `text` (0 when none does)."""
    marks = list(_PASSAGE.finditer(prompt))
    for i, mark in enumerate(marks):
        end = marks[i + 1].start() if i + 1 < len(marks) else len(prompt)
        if text in prompt[mark.end() : end]:
            return int(mark.group(1))
    return 0


def _handler(server: ScriptedModelServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # the test output stays quiet
            return

        def _send(self, status: int, body: bytes, content_type: str = "application/json", trickle: float = 0.0) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if not trickle:
                self.wfile.write(body)
                return
            for i in range(0, len(body), 8):
                self.wfile.write(body[i : i + 8])
                self.wfile.flush()
                time.sleep(trickle)

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            try:
                body = json.loads(self.rfile.read(length) or b"{}")
            except ValueError:
                self._send(400, b'{"error": {"message": "not JSON"}}')
                return
            if not self.path.endswith("/chat/completions"):
                self._send(404, b'{"error": {"message": "unknown path"}}')
                return
            step = server.take(body, {k.lower(): v for k, v in self.headers.items()})
            if step.delay:
                time.sleep(step.delay)
            if step.status != 200:
                error = {"error": {"message": f"scripted {step.status}", "type": "scripted", "code": step.status}}
                self._send(step.status, json.dumps(error).encode())
                return
            if step.raw is not None:
                self._send(200, step.raw)
                return
            prompt = body["messages"][-1]["content"]
            text = step.reply.replace("{n}", str(passage_holding(prompt, step.cite))) if step.cite else step.reply
            if body.get("stream"):
                self._stream(body, text)
                return
            completion = {
                "id": "chatcmpl-scripted",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": body.get("model", "scripted"),
                "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
            }
            try:
                self._send(200, json.dumps(completion, ensure_ascii=False).encode(), trickle=step.trickle)
            except (BrokenPipeError, ConnectionResetError):
                return  # the client gave up on a trickled reply

        def _stream(self, body: dict[str, Any], text: str) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Connection", "close")
            self.end_headers()
            pieces = re.findall(r"\S+\s*", text) or [""]
            for i, piece in enumerate(pieces):
                chunk = {
                    "id": "chatcmpl-scripted",
                    "object": "chat.completion.chunk",
                    "created": int(time.time()),
                    "model": body.get("model", "scripted"),
                    "choices": [
                        {
                            "index": 0,
                            "delta": {"role": "assistant", "content": piece} if i == 0 else {"content": piece},
                            "finish_reason": None,
                        }
                    ],
                }
                self.wfile.write(f"data: {json.dumps(chunk, ensure_ascii=False)}\n\n".encode())
            self.wfile.write(b"data: [DONE]\n\n")
            self.close_connection = True

    return Handler


@contextmanager
def scripted_model_server() -> Iterator[ScriptedModelServer]:
    """The server on a free port of 127.0.0.1 (`url` ends in /v1), stopped afterwards."""
    server = ScriptedModelServer()
    http = ThreadingHTTPServer(("127.0.0.1", 0), _handler(server))
    http.daemon_threads = True
    server.url = f"http://127.0.0.1:{http.server_address[1]}/v1"
    thread = threading.Thread(target=http.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        http.shutdown()
        http.server_close()
