"""Admission before a body is read: the API key is checked on the headers alone, and the body is capped per route
while it arrives (413 at the cap, whatever Content-Length said), so neither a keyless nor an endless body is held."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from fastapi import HTTPException, params
from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers, MutableHeaders
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from assistant.api import security
from assistant.api.state import AppState
from assistant.core.errors import BilimError, PayloadTooLarge, Unauthorized

ErrorAnswer = Callable[[Request, BilimError], Response]


@dataclass(frozen=True)
class Gate:
    """What one route admits: which key it needs (none, an asking key or an admin key) and how large a body."""

    route: APIRoute
    needs_key: bool
    needs_admin: bool
    uploads: bool  # a multipart upload: the upload request cap instead of the JSON one


def gates(routes: Iterable[object]) -> list[Gate]:
    """The gates of the routes that depend on `asker` or `admin` or take files; other routes need no key."""
    found = []
    for route in routes:
        if not isinstance(route, APIRoute):
            continue
        calls = {dependency.call for dependency in route.dependant.dependencies}
        uploads = any(isinstance(param.field_info, params.File) for param in route.dependant.body_params)
        needs_admin = security.admin in calls
        if needs_admin or security.asker in calls or uploads:
            found.append(Gate(route, needs_admin or security.asker in calls, needs_admin, uploads))
    return found


def _declares_body(headers: Headers) -> bool:
    return "transfer-encoding" in headers or headers.get("content-length", "0") not in ("", "0")


class Admission:
    """Refuses a request by its headers before its body is read (a wrong key, a declared size over the cap) and
    stops a body at the cap while it streams; a response given before the body ended closes the connection, so
    the rest is never read."""

    def __init__(self, app: ASGIApp, gates: list[Gate], answer_error: ErrorAnswer) -> None:
        self.app = app
        self.gates = gates
        self.answer_error = answer_error  # the app's one mapping of BilimError to a problem response

    def _gate(self, scope: Scope) -> Gate | None:
        for gate in self.gates:
            if gate.route.matches(scope)[0] == Match.FULL:
                return gate
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        state: AppState | None = getattr(scope["app"].state, "bilim", None) if "app" in scope else None
        if scope["type"] != "http" or state is None:
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        gate = self._gate(scope)
        settings = state.settings
        limit = settings.upload_request_bytes() if gate and gate.uploads else settings.max_body_bytes
        body_ended = not _declares_body(headers)

        async def send_closing(message: Message) -> None:
            if message["type"] == "http.response.start" and not body_ended:
                # Answered before the body ended (a refusal, a 413): close rather than read the rest of it.
                MutableHeaders(scope=message)["connection"] = "close"
            await send(message)

        refusal = self._refusal(headers, gate, state, limit)
        if refusal is not None:
            request = Request(scope)
            try:
                await run_in_threadpool(self._raise, refusal, request, state)
            except BilimError as exc:
                await self.answer_error(request, exc)(scope, receive, send_closing)
            return

        received = 0

        async def capped_receive() -> Message:
            nonlocal received, body_ended
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                body_ended = not message.get("more_body", False)
                if received > limit:
                    # An HTTPException, which FastAPI's body reading passes on (others become a 400).
                    raise HTTPException(413, f"the request body is larger than the limit of {limit} bytes")
            return message

        await self.app(scope, capped_receive, send_closing)

    @staticmethod
    def _refusal(headers: Headers, gate: Gate | None, state: AppState, limit: int) -> BilimError | None:
        if gate is not None and gate.needs_key:
            refusal = security.key_refusal(state.settings, security.bearer(headers), gate.needs_admin)
            if refusal is not None:
                return refusal
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            return PayloadTooLarge(f"the request body ({declared} bytes) is larger than the limit of {limit} bytes")
        return None

    @staticmethod
    def _raise(refusal: BilimError, request: Request, state: AppState) -> None:
        """A failed authentication is counted per address first (a blocking write: run in a thread)."""
        if isinstance(refusal, Unauthorized):
            security.refuse(request, state, refusal)
        raise refusal
