"""Site sync from the service (admin keys only): start a run in the background, and follow its progress."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from fastapi import APIRouter, Depends

from assistant.api.schemas import SyncRequest, SyncStatus, problems
from assistant.api.security import Caller, admin
from assistant.api.state import AppState, app_state
from assistant.core.errors import InvalidInput
from assistant.wiring import (
    Fence,
    ProgressFactory,
    SyncReport,
    SyncSource,
    Writing,
    claim_sync,
    load_sources,
    sources_from_tables,
    sync_into_service,
)

router = APIRouter(prefix="/v1/sync", tags=["sync"])


def _writing(app: AppState) -> Writing:
    """Each batch under the service's write guard; answers see it as soon as the batch is written."""

    @contextmanager
    def writing() -> Iterator[Fence]:
        with app.guard.write():
            yield app.guard.fence
        app.service.refresh_lexical()

    return writing


def begin_sync(state: AppState, sources: list[SyncSource]) -> None:
    """Start a sync of these sources on this host, holding the sync turn; AlreadyRunning when taken."""

    def run(progress: ProgressFactory) -> SyncReport:
        try:
            return sync_into_service(state.service, sources, _writing(state), progress)
        finally:
            state.metrics.chunks.set(state.library.chunk_count())

    state.sync_runs.start([s.name for s in sources], run, lambda: claim_sync(state.settings))


@router.post(
    "",
    response_model=SyncStatus,
    status_code=202,
    responses=problems(400, 401, 403, 409, 413, 422, 429, 503),
    summary="Start a sync of website sources (admin)",
)
def start_sync(
    request: SyncRequest | None = None,
    caller: Caller = Depends(admin),
    state: AppState = Depends(app_state),
) -> dict[str, Any]:
    """Sync the sources given, else BILIM_SYNC_SOURCES, in the background; GET /v1/sync follows it."""
    if request is not None and request.sources is not None:
        sources = sources_from_tables(request.sources, "the request's sources")
    elif state.settings.sync_sources is not None:
        sources = load_sources(state.settings.sync_sources)
    else:
        raise InvalidInput('no sources to sync: send them as {"sources": [...]} or set BILIM_SYNC_SOURCES')

    begin_sync(state, sources)
    return state.sync_runs.status()


@router.get(
    "",
    response_model=SyncStatus,
    responses=problems(401, 403, 429, 503),
    summary="This host's latest sync and its progress (admin)",
)
def sync_status(caller: Caller = Depends(admin), state: AppState = Depends(app_state)) -> dict[str, Any]:
    """Pages seen, fetched, unchanged, added, changed, removed and failed (with reasons) of the latest run."""
    return state.sync_runs.status()
