"""Connections that cannot be held open for free: a deadline and a size cap for a request's headers, a limit on
pauses within its body, and a cap on open connections per worker where the longest-waiting one makes room.

uvicorn closes an idle keep-alive connection, but not one that never finishes its headers (or never sends a byte),
nor one whose body stops: thousands of those used to hold every file descriptor until /healthz was refused."""

from __future__ import annotations

import asyncio
import json
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from assistant.settings import get_settings

MAX_HEADER_BYTES = 64 * 1024  # request line and headers; nginx's default large_client_header_buffers are 32 KB
RETRY_AFTER_BUSY = 1  # seconds, with the 503 of a worker at its connection cap


@dataclass(frozen=True)
class ConnectionLimits:
    """The settings a connection needs, read once per worker."""

    header_timeout: float
    body_timeout: float
    max_connections: int


@cache
def connection_limits() -> ConnectionLimits:
    """This worker's limits, from the BILIM_ settings its environment holds."""
    settings = get_settings()
    return ConnectionLimits(settings.header_timeout, settings.body_timeout, settings.max_connections)


def _raw_problem(status: int, reason: str, code: str, detail: str, extra: str = "") -> bytes:
    """A complete HTTP/1.1 response carrying the API's problem body, written when no ASGI app is involved."""
    body = json.dumps({"status": status, "code": code, "detail": detail}).encode()
    head = (
        f"HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\ncontent-length: {len(body)}\r\n"
        f"{extra}connection: close\r\n\r\n"
    )
    return head.encode() + body


# Connections with no request being answered (new, idle between requests, or still sending headers), oldest first,
# per worker: the first to close when the cap is reached.
_WAITING: dict[int, OrderedDict[GuardedHttpTools, None]] = {}


class GuardedHttpTools(HttpToolsProtocol):
    """uvicorn's httptools protocol with header and body deadlines, a header size cap and a connection cap."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.limits = connection_limits()
        self._waiting = _WAITING.setdefault(id(self.server_state), OrderedDict())
        self._deadline: asyncio.TimerHandle | None = None
        self._header_bytes: int | None = 0  # counted while headers are awaited, None while a request is answered

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if len(self.connections) > self.limits.max_connections and not self._make_room():
            self.connections.discard(self)
            detail = "the server has too many open connections; retry shortly"
            transport.write(
                _raw_problem(
                    503, "Service Unavailable", "too_many_connections", detail, f"retry-after: {RETRY_AFTER_BUSY}\r\n"
                )
            )
            transport.close()
            return
        self._waiting[self] = None
        self._arm(self.limits.header_timeout, self._headers_late)

    def _make_room(self) -> bool:
        """Close the connection that has waited longest without a request being answered; False if none has."""
        while self._waiting:
            oldest, _ = self._waiting.popitem(last=False)
            if oldest is not self and not oldest.transport.is_closing():
                self.connections.discard(oldest)  # counted out now: its connection_lost comes a loop turn later
                oldest._cancel()
                oldest.transport.close()
                return True
        return False

    def _arm(self, seconds: float, late: Callable[[], None]) -> None:
        self._cancel()
        self._deadline = self.loop.call_later(seconds, late)

    def _cancel(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _headers_late(self) -> None:
        self._deadline = None
        if not self.transport.is_closing():
            detail = f"the request's headers did not arrive within {self.limits.header_timeout:g} s"
            self.transport.write(_raw_problem(408, "Request Timeout", "request_timeout", detail))
            self.transport.close()

    def _body_late(self) -> None:
        self._deadline = None
        if self.flow.read_paused:  # the app has not read what came: the client is not the one pausing
            self._arm(self.limits.body_timeout, self._body_late)
        elif not self.transport.is_closing():
            self.transport.close()  # the app is mid-request: closing is all that can be said

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self._header_bytes is None or self.transport.is_closing():
            return
        # Still no complete headers after this read (a read that completed them set the count to None).
        self._header_bytes += len(data)
        if self._header_bytes > MAX_HEADER_BYTES:
            detail = f"the request line and headers are over {MAX_HEADER_BYTES} bytes"
            self.transport.write(_raw_problem(431, "Request Header Fields Too Large", "headers_too_large", detail))
            self._cancel()
            self.transport.close()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if self._deadline is None:  # a later request on a kept-alive connection: its headers' own deadline
            self._arm(self.limits.header_timeout, self._headers_late)

    def on_headers_complete(self) -> None:
        self._header_bytes = None
        self._waiting.pop(self, None)
        self._cancel()
        super().on_headers_complete()
        if any(name in (b"content-length", b"transfer-encoding") for name, _ in self.headers):
            self._arm(self.limits.body_timeout, self._body_late)

    def on_body(self, body: bytes) -> None:
        super().on_body(body)
        self._arm(self.limits.body_timeout, self._body_late)

    def on_message_complete(self) -> None:
        self._cancel()
        super().on_message_complete()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing():
            self._header_bytes = 0
            self._waiting[self] = None
            self._waiting.move_to_end(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel()
        self._waiting.pop(self, None)
        super().connection_lost(exc)
