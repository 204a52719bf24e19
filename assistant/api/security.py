"""API keys (constant-time comparison, never logged) and per-end-user rate limits."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from typing import NoReturn

from fastapi import Depends, Request
from pydantic import SecretStr

from assistant.api.state import AppState, app_state
from assistant.core.errors import Forbidden, RateLimited, Unauthorized
from assistant.records import owner_id
from assistant.settings import Settings

MAX_END_USER_CHARS = 128


@dataclass(frozen=True)
class Caller:
    """Who is calling: a key fingerprint (or none on an open server) and the end user or address behind it."""

    key: str | None
    admin: bool
    owner: str


def bearer(headers: Mapping[str, str]) -> str | None:
    """The token of an `Authorization: Bearer <token>` header, if there is one."""
    scheme, _, token = headers.get("authorization", "").partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


def _known(token: str, keys: list[SecretStr]) -> bool:
    # Compare against every key, without stopping early, so timing reveals nothing.
    found = False
    for key in keys:
        found |= hmac.compare_digest(token.encode(), key.get_secret_value().encode())
    return found


def _address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def refuse(request: Request, state: AppState, error: Unauthorized) -> NoReturn:
    """A failed authentication: counted per address, so guessing keys meets a 429 (a valid key never does)."""
    limit, window = state.settings.rate(state.settings.auth_failure_limit)
    try:
        state.records.hit(owner_id("failed-authentication", _address(request)), limit, window)
    except RateLimited as exc:
        raise RateLimited(
            f"too many failed authentications from this address; retry in {exc.retry_after} s", exc.retry_after
        ) from None
    raise error


def key_refusal(settings: Settings, token: str | None, needs_admin: bool) -> Unauthorized | Forbidden | None:
    """Why this token may not call a route that needs an asking key (or an admin key); None if it may.

    Needs only the headers, so the API's admission checks it before reading a body (assistant/api/admission.py).
    """
    if needs_admin:
        if not settings.admin_keys:
            return Forbidden(
                "staff features (document management, site sync, insights) are disabled on this server "
                "(set BILIM_ADMIN_KEYS to enable them)"
            )
        if not token:
            return Unauthorized("an admin key is required: send 'Authorization: Bearer <admin key>'")
        if _known(token, settings.admin_keys):
            return None
        if _known(token, settings.api_keys):
            return Forbidden("this key may ask questions but not manage documents or read insights; use an admin key")
        return Unauthorized("unknown key: an admin key is required")
    if settings.api_keys and not (token and (_known(token, settings.admin_keys) or _known(token, settings.api_keys))):
        return Unauthorized("a valid API key is required: send 'Authorization: Bearer <key>'")
    return None


def check_key(request: Request, state: AppState, needs_admin: bool) -> None:
    """Raise the refusal of this request's key, a failed authentication counted per address (see `refuse`)."""
    refusal = key_refusal(state.settings, bearer(request.headers), needs_admin)
    if isinstance(refusal, Unauthorized):
        refuse(request, state, refusal)
    if refusal is not None:
        raise refusal


def _caller(request: Request, state: AppState) -> Caller:
    settings = state.settings
    check_key(request, state, needs_admin=False)
    token = bearer(request.headers)
    admin = bool(token) and _known(token or "", settings.admin_keys)
    valid = admin or (bool(token) and _known(token or "", settings.api_keys))
    fingerprint = hashlib.sha256(token.encode()).hexdigest()[:16] if valid and token else None
    # Only a client holding a key may speak for its end users; otherwise the limit is per address.
    end_user = request.headers.get("x-end-user", "")[:MAX_END_USER_CHARS] if fingerprint else ""
    who = end_user or (None if fingerprint else _address(request))
    return Caller(key=fingerprint, admin=admin, owner=owner_id(fingerprint, who))


def asker(request: Request, state: AppState = Depends(app_state)) -> Caller:
    """Any client allowed to ask; counts the request against its rate limit."""
    caller = _caller(request, state)
    limit, window = state.settings.rate()
    state.records.hit(caller.owner, limit, window)
    return caller


def admin(request: Request, state: AppState = Depends(app_state)) -> Caller:
    """Staff features (document management, site sync, insights): an admin key is required; with no admin keys
    configured they are off."""
    check_key(request, state, needs_admin=True)
    return asker(request, state)


def charge_question(state: AppState, caller: Caller, question: str) -> None:
    """Count a question's characters (runs of whitespace as one) against its asker's budget: 429 past it."""
    limit, window = state.settings.question_chars_rate()
    try:
        state.records.hit(f"{caller.owner}#chars", limit, window, weight=len(" ".join(question.split())))
    except RateLimited as exc:
        raise RateLimited(
            f"too many characters of questions ({limit} per {window} s: long questions count for their length); "
            f"retry in {exc.retry_after} s",
            exc.retry_after,
        ) from None
