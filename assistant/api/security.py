"""API keys (constant-time comparison, never logged) and per-end-user rate limits."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from typing import NoReturn

from fastapi import Depends, Request
from pydantic import SecretStr

from assistant.api.state import AppState, app_state
from assistant.core.errors import Forbidden, RateLimited, Unauthorized
from assistant.records import owner_id

MAX_END_USER_CHARS = 128


@dataclass(frozen=True)
class Caller:
    """Who is calling: a key fingerprint (or none on an open server) and the end user or address behind it."""

    key: str | None
    admin: bool
    owner: str


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
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


def _caller(request: Request, state: AppState) -> Caller:
    settings = state.settings
    token = _bearer(request)
    admin = bool(token) and _known(token or "", settings.admin_keys)
    valid = admin or (bool(token) and _known(token or "", settings.api_keys))
    if settings.api_keys and not valid:
        refuse(request, state, Unauthorized("a valid API key is required: send 'Authorization: Bearer <key>'"))
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
    """Staff features (document management, insights): an admin key is required; with no admin keys configured
    they are off."""
    if not state.settings.admin_keys:
        raise Forbidden(
            "staff features (document management, insights) are disabled on this server "
            "(set BILIM_ADMIN_KEYS to enable them)"
        )
    token = _bearer(request)
    if not token:
        refuse(request, state, Unauthorized("an admin key is required: send 'Authorization: Bearer <admin key>'"))
    if not _known(token, state.settings.admin_keys):
        if _known(token, state.settings.api_keys):
            raise Forbidden("this key may ask questions but not manage documents or read insights; use an admin key")
        refuse(request, state, Unauthorized("unknown key: an admin key is required"))
    return asker(request, state)
