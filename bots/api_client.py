"""The bots' HTTP client of the Bilim API (answers, stored answers, feedback, documents)."""

from __future__ import annotations

from typing import Any

import httpx


class ApiUnavailable(Exception):
    """The API cannot be reached, timed out or failed (5xx): tell the user to try again."""


class ApiRejected(Exception):
    """The API refused the request (4xx) with a JSON problem."""

    def __init__(self, status: int, code: str, detail: str, retry_after: int | None = None) -> None:
        super().__init__(f"{status} {code}: {detail}")
        self.status = status
        self.code = code
        self.detail = detail
        self.retry_after = retry_after


class BilimClient:
    """Async client holding one API key; `end_user` (a hashed user id) goes in `X-End-User`."""

    def __init__(self, base_url: str, api_key: str | None = None, timeout: float = 30.0) -> None:
        headers = {"User-Agent": "bilim-telegram-bot"}
        if api_key:
            headers["Authorization"] = f"Bearer {api_key}"
        self._http = httpx.AsyncClient(base_url=base_url.rstrip("/"), headers=headers, timeout=timeout)

    async def close(self) -> None:
        """Close the connection pool."""
        await self._http.aclose()

    async def _call(self, method: str, path: str, end_user: str | None = None, **kwargs: Any) -> Any:
        headers = {"X-End-User": end_user} if end_user else {}
        try:
            response = await self._http.request(method, path, headers=headers, **kwargs)
        except httpx.HTTPError as exc:
            raise ApiUnavailable(f"{method} {path}: {type(exc).__name__}") from exc
        if response.status_code >= 500:
            raise ApiUnavailable(f"{method} {path}: HTTP {response.status_code}")
        if response.status_code >= 400:
            try:
                body = response.json()
            except ValueError:
                body = {}
            retry = response.headers.get("Retry-After")
            raise ApiRejected(
                response.status_code,
                str(body.get("code", "error")),
                str(body.get("detail", response.reason_phrase)),
                int(retry) if retry and retry.isdigit() else None,
            )
        return response.json()

    async def ask(
        self, question: str, *, end_user: str, conversation_id: str | None = None, language: str | None = None
    ) -> dict[str, Any]:
        """POST /v1/ask."""
        body: dict[str, Any] = {"question": question}
        if conversation_id:
            body["conversation_id"] = conversation_id
        if language:
            body["language"] = language
        result: dict[str, Any] = await self._call("POST", "/v1/ask", end_user, json=body)
        return result

    async def answer(self, answer_id: str, *, end_user: str) -> dict[str, Any]:
        """GET /v1/answers/{id}."""
        result: dict[str, Any] = await self._call("GET", f"/v1/answers/{answer_id}", end_user)
        return result

    async def feedback(self, answer_id: str, rating: str, *, end_user: str) -> None:
        """POST /v1/feedback."""
        await self._call("POST", "/v1/feedback", end_user, json={"answer_id": answer_id, "rating": rating})

    async def documents(self, *, end_user: str) -> list[dict[str, Any]]:
        """GET /v1/documents."""
        result: dict[str, Any] = await self._call("GET", "/v1/documents", end_user)
        return list(result.get("documents", []))

    async def config(self) -> dict[str, Any]:
        """GET /v1/config (limits)."""
        result: dict[str, Any] = await self._call("GET", "/v1/config")
        return result
