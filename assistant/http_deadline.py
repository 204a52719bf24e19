"""Total deadlines for HTTP requests to the service's dependencies (the Chroma server, the language model).

httpx's timeouts bound each connect, write and read, not a request: a server that trickles its reply could hold a
request thread for minutes. A `DeadlineTransport` caps every phase of a request by the whole budget and reads the
reply's body itself, checking the deadline between its chunks (a reply is cut at most one chunk's wait after it).

The chromadb client speaks httpx and the openai client its fork httpx2 (the same transport API): the transport
takes the library it serves as a module.
"""

from __future__ import annotations

import threading
import time
from types import ModuleType
from typing import Any

PHASES = ("connect", "read", "write", "pool")


class DeadlineTransport:
    """An httpx (or httpx2) transport bounding each request to `seconds` in all; with `fail_fast`, while the server
    is known to hang, one request at a time probes it and the others fail at once (threads waiting on a hung
    server would starve the process)."""

    def __init__(self, http: ModuleType, inner: Any, seconds: float, *, fail_fast: bool = False) -> None:
        self._http = http
        self.inner = inner
        self.seconds = seconds
        self._fail_fast = fail_fast
        self.hung = False  # the last request ran out of time (no reply since)
        self._probe = threading.Lock()

    def __enter__(self) -> DeadlineTransport:
        self.inner.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.inner.__exit__(*exc)

    def handle_request(self, request: Any) -> Any:
        """The reply, read whole within the deadline; the library's TimeoutException (or, while the server hangs,
        its TransportError) when there is none."""
        probing = False
        if self._fail_fast and self.hung:
            probing = self._probe.acquire(blocking=False)
            if not probing:
                raise self._http.TransportError(
                    f"{request.url.host}:{request.url.port} did not answer within {self.seconds:g} s and has not "
                    "answered since",
                    request=request,
                )
        try:
            response = self._send(request)
        except self._http.TimeoutException:
            self.hung = True
            raise
        finally:
            if probing:
                self._probe.release()
        self.hung = False
        return response

    def _send(self, request: Any) -> Any:
        deadline = time.monotonic() + self.seconds
        asked = request.extensions.get("timeout", {})
        request.extensions["timeout"] = {
            phase: self.seconds if asked.get(phase) is None else min(float(asked[phase]), self.seconds)
            for phase in PHASES
        }
        response = self.inner.handle_request(request)
        body = []
        try:
            for chunk in response.stream:
                if time.monotonic() > deadline:
                    raise self._http.ReadTimeout(f"no complete reply within {self.seconds:g} s", request=request)
                body.append(chunk)
        finally:
            response.stream.close()
        return self._http.Response(
            response.status_code, headers=response.headers, content=b"".join(body), extensions=response.extensions
        )

    def close(self) -> None:
        """Close the inner transport's connections."""
        self.inner.close()
