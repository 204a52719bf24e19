"""The FastAPI application: wiring at startup, routes, one error mapping, metrics, the web chat."""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import AsyncIterator, Callable
from contextlib import ExitStack, asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread
import swagger_ui_bundle
from fastapi import Depends, FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, PlainTextResponse
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from assistant.api import ask, documents, insights, sync
from assistant.api.admission import Admission, gates
from assistant.api.metrics import Metrics
from assistant.api.schemas import ClientConfig, Readiness
from assistant.api.state import AppState, app_state
from assistant.api.sync_runs import SyncSchedule
from assistant.api.writes import WriteGuard
from assistant.core.errors import BilimError, NotAQuestion, RateLimited
from assistant.core.pipeline import NO_WORDS
from assistant.core.usecases import AskInConversation
from assistant.insights import Clustering
from assistant.records import RecordStore, describe
from assistant.settings import Settings, get_settings
from assistant.wiring import (
    Service,
    StoreLibrary,
    build_service,
    load_sources,
    open_records,
    seconds_since_sync,
    uploads_folder,
)

log = logging.getLogger("bilim.api")
STATIC = Path(__file__).parent / "static"
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}
PAGE_POLICY = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
_HTTP_CODES = {
    400: "invalid_body",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
}


def problem(status: int, code: str, detail: str, headers: dict[str, str] | None = None) -> JSONResponse:
    """The JSON error body every failure gets: {"status", "code", "detail"}."""
    return JSONResponse({"status": status, "code": code, "detail": detail}, status_code=status, headers=headers)


def _validation_detail(exc: RequestValidationError) -> str:
    parts = []
    for error in exc.errors():
        where = ".".join(str(p) for p in error.get("loc", ()) if p != "body")
        parts.append(f"{where}: {error.get('msg', 'invalid')}" if where else str(error.get("msg", "invalid")))
    return "; ".join(parts) or "invalid request"


RETRY_AFTER_UNAVAILABLE = 2  # seconds a client should wait when the store or the records are unreachable
READINESS_THREADS = 2  # /readyz's own threads: probes never wait behind the questions' threads
READINESS_MARGIN = 1.0  # seconds /readyz waits beyond the store's timeout before it answers 503 itself


class LogThrottle:
    """Lets one log line through per `interval` seconds and counts the ones it held back."""

    def __init__(self, interval: float = 1.0) -> None:
        self._interval = interval
        self._last = 0.0
        self._held = 0
        self.suppressed = 0

    def allow(self) -> bool:
        """Whether to log now; `suppressed` is how many were held back since the last line."""
        now = time.monotonic()
        if now - self._last >= self._interval:
            self._last, self.suppressed, self._held = now, self._held, 0
            return True
        self._held += 1
        return False


def _allowed_methods(request: Request) -> list[str]:
    """Every method some route of this path accepts (Starlette's 405 names only the first route's)."""
    scope = {**request.scope, "method": "GET"}
    methods: set[str] = set()
    pending = list(request.app.router.routes)
    while pending:
        route = pending.pop()
        if isinstance(route, APIRoute | Route):
            if route.matches(scope)[0] != Match.NONE:
                methods |= set(route.methods or ())
        else:  # an included router (FastAPI keeps it as one route) or a mount: look at its own routes
            inner = getattr(getattr(route, "original_router", route), "routes", None)
            if isinstance(inner, list):
                pending.extend(inner)
    return sorted(methods)


def _install_error_handlers(app: FastAPI) -> Callable[[Request, BilimError], JSONResponse]:
    """Map every error to its problem response; the BilimError mapping is returned for the admission too."""
    failures = LogThrottle()

    def answer_error(request: Request, exc: BilimError) -> JSONResponse:
        headers = None
        if isinstance(exc, RateLimited):
            headers = {"Retry-After": str(exc.retry_after)}
        elif exc.status_code == 503:
            headers = {"Retry-After": str(RETRY_AFTER_UNAVAILABLE)}
        if exc.status_code >= 500 and failures.allow():
            # One line, no traceback, at most once a second: an outage must not flood the log.
            log.error(
                "%s %s: %s (%d more since the last line)",
                request.method,
                request.url.path,
                exc.message,
                failures.suppressed,
            )
        return problem(exc.status_code, exc.code, exc.message, headers)

    @app.exception_handler(BilimError)
    async def bilim_error(request: Request, exc: BilimError) -> JSONResponse:
        return answer_error(request, exc)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        if any(error.get("type") == "json_invalid" for error in exc.errors()):
            return problem(400, "invalid_body", f"the body is not valid JSON: {_validation_detail(exc)}")
        for error in exc.errors():
            if error.get("type") == "string_pattern_mismatch" and tuple(error.get("loc", ())) == ("body", "question"):
                # The schema's "a letter or digit" rule: the same answers as the service's own checks give.
                if not str(error.get("input", "")).strip():
                    return problem(422, "invalid_input", "the question is empty")
                return problem(422, NotAQuestion.code, NO_WORDS)
        return problem(422, "invalid_input", _validation_detail(exc))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        # Its headers stay: a 405 must say which methods are allowed (Allow), a 401 how to authenticate.
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            headers["Allow"] = ", ".join(_allowed_methods(request))
        return problem(exc.status_code, _HTTP_CODES.get(exc.status_code, "http_error"), str(exc.detail), headers)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return problem(500, "internal_error", "internal error; the details are in the server log")

    return answer_error


class MeasuredResponses:
    """Counts and times every request, adds the security headers and answers an unexpected error with the JSON 500.

    Plain ASGI rather than `@app.middleware("http")`, whose task group and body streams cost ~1 ms a request.
    """

    def __init__(self, app: ASGIApp, instance: str) -> None:
        self.app = app
        self.instance = instance  # which worker answered (an opaque id), for load checks
        self.unexpected_failures = LogThrottle()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500
        responded = False

        async def send_headed(message: Message) -> None:
            nonlocal status, responded
            if message["type"] == "http.response.start":
                responded = True
                status = int(message["status"])
                headers = MutableHeaders(scope=message)
                for header, value in SECURITY_HEADERS.items():
                    headers.setdefault(header, value)
                headers["X-Served-By"] = self.instance
            await send(message)

        try:
            await self.app(scope, receive, send_headed)
        except Exception:
            if self.unexpected_failures.allow():
                log.exception("unhandled error on %s %s", scope.get("method"), scope.get("path"))
            if responded:
                raise  # half a response is out: only closing the connection tells the client
            # Answered here, not re-raised: past this point the server would close a keep-alive connection.
            await problem(500, "internal_error", "internal error; the details are in the server log")(
                scope, receive, send_headed
            )
        name = getattr(scope.get("route"), "path", "unmatched")
        state: AppState | None = getattr(scope["app"].state, "bilim", None)
        if state is not None:
            state.metrics.requests.labels(scope["method"], name, str(status)).inc()
            state.metrics.latency.labels(scope["method"], name).observe(time.perf_counter() - started)


def _reconcile_uploads(state: AppState) -> None:
    """Bring the uploaded originals and the store to agree before serving (see assistant/reconciliation.py).

    A check reads first, without the lock: when all agree (the usual start-up) no lock or lease is taken and nothing
    is written. Otherwise the writer's lock is taken and the check runs again under it, so of several workers or
    hosts starting together one repairs and the others find the repair done.
    """
    try:
        found = state.library.reconcile(repair=False)
        if found.writes:
            with state.guard.write():
                found = state.library.reconcile()
            state.service.refresh_lexical()
    except BilimError as exc:  # the store is down: the next write settles the unfinished ones, a restart the rest
        log.warning("the uploads were not reconciled with the store: %s", exc.message)
        return
    for outcome, how_many in found.counts().items():
        state.metrics.reconciled.labels(outcome).set(how_many)
    (log.warning if found.writes or found.kept or found.failed else log.info)(
        "uploads reconciled with the store: %s (%d chunks embedded)", found.summary(), found.chunks_embedded
    )


def _schedule_syncs(state: AppState, sources: Path, interval: float) -> SyncSchedule:
    """Sync BILIM_SYNC_SOURCES every BILIM_SYNC_INTERVAL seconds (counted from any host's last sync)."""
    schedule = SyncSchedule(
        state.sync_runs,
        interval,
        since_last=lambda: seconds_since_sync(state.settings),
        begin=lambda: sync.begin_sync(state, load_sources(sources)),
    )
    schedule.start()
    log.info("syncing %s every %g s", sources, interval)
    return schedule


def create_app(settings: Settings | None = None, service: Service | None = None) -> FastAPI:
    """Build the app; settings are read from the environment (once, here) unless given."""
    cfg = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        guard = WriteGuard(cfg, embedded=cfg.chroma_url is None)
        guard.start()  # embedded store: refuse to start beside another writer
        records: RecordStore | None = None
        held = ExitStack()
        try:
            wired = service or build_service(cfg)
            records = open_records(cfg)
            uploads = uploads_folder(cfg)
            uploads.mkdir(parents=True, exist_ok=True)
            state = AppState(
                settings=cfg,
                service=wired,
                records=records,
                guard=guard,
                metrics=Metrics(),
                uploads=uploads,
                library=StoreLibrary(wired, uploads, fence=guard.fence),
                asking=AskInConversation(wired, records),
                clustering=Clustering.load(),
            )
            _reconcile_uploads(state)
            state.metrics.chunks.set(state.library.chunk_count())
            state.purge_if_due()
            app.state.bilim = state
            if cfg.sync_interval is not None and cfg.sync_sources is not None:
                schedule = _schedule_syncs(state, cfg.sync_sources, cfg.sync_interval)
                held.callback(schedule.stop)
            log.info(
                "ready: %d chunks in %s, records in %s",
                state.library.chunk_count(),
                cfg.chroma_url or cfg.data_dir,
                describe(records.target),  # a database URL without its password
            )
            yield
        finally:
            held.close()
            if records is not None:
                records.close()
            guard.stop()

    app = FastAPI(
        title="Bilim Assistant",
        version="0.1.0",
        description="Cited answers from the documents of the Kyrgyz Ministry of Education and Science.",
        lifespan=lifespan,
        docs_url=None,  # served below from the bundled Swagger UI: the machines have no CDN
        redoc_url=None,
    )
    answer_error = _install_error_handlers(app)
    # Innermost of the three: its refusals are measured and carry the security headers (and CORS ones).
    app.add_middleware(
        Admission,
        gates=gates([*ask.router.routes, *documents.router.routes, *insights.router.routes, *sync.router.routes]),
        answer_error=answer_error,
    )
    app.add_middleware(MeasuredResponses, instance=secrets.token_hex(4))
    if cfg.cors_origins:
        app.add_middleware(CORSMiddleware, allow_origins=cfg.cors_origins, allow_methods=["*"], allow_headers=["*"])
    app.include_router(ask.router)
    app.include_router(documents.router)
    app.include_router(insights.router)
    app.include_router(sync.router)

    # The probes and the scrape run on the event loop, never in the request threads: with a hung dependency every
    # one of those (anyio's 40) was held by a waiting question, and /healthz and /metrics waited behind them.
    @app.get("/healthz", tags=["system"], summary="The process is up")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    # Readiness reads the store in threads of its own, and answers 503 past its deadline even if they are stuck.
    readiness_threads = anyio.CapacityLimiter(READINESS_THREADS)

    @app.get(
        "/readyz",
        tags=["system"],
        summary="Store open, embedder loaded, index non-empty",
        response_model=Readiness,
        responses={503: {"model": Readiness, "description": "not ready: the store is unreachable or empty"}},
    )
    async def readyz(request: Request) -> JSONResponse:
        state: AppState = request.app.state.bilim
        embedder = state.service.embedder.dim > 0
        try:
            with anyio.fail_after(state.settings.store_timeout + READINESS_MARGIN):
                chunks = await anyio.to_thread.run_sync(
                    state.library.chunk_count, limiter=readiness_threads, abandon_on_cancel=True
                )
        except (BilimError, TimeoutError) as exc:
            code, detail = (
                (exc.code, exc.message)
                if isinstance(exc, BilimError)
                else ("store_unavailable", f"the store did not answer within {state.settings.store_timeout:g} s")
            )
            body = Readiness(status="not ready", store=False, embedder=embedder, chunks=0, code=code, detail=detail)
            return JSONResponse(
                body.model_dump(), status_code=503, headers={"Retry-After": str(RETRY_AFTER_UNAVAILABLE)}
            )
        if embedder and chunks > 0:
            return JSONResponse(Readiness(status="ready", store=True, embedder=True, chunks=chunks).model_dump())
        body = Readiness(
            status="not ready",
            store=True,
            embedder=embedder,
            chunks=chunks,
            code="empty_store",
            detail="the store is empty: ingest documents first",
        )
        return JSONResponse(body.model_dump(), status_code=503)

    @app.get(
        "/metrics",
        tags=["system"],
        summary="Prometheus metrics",
        response_class=PlainTextResponse,
        responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}, "description": "metrics"}},
    )
    async def metrics(request: Request) -> Response:
        state: AppState = request.app.state.bilim
        return Response(state.metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8")

    @app.get("/v1/config", response_model=ClientConfig, tags=["system"], summary="What the web chat needs")
    def client_config(state: AppState = Depends(app_state)) -> dict[str, Any]:
        cfg = state.settings
        return {
            "auth_required": bool(cfg.api_keys),
            "admin_enabled": bool(cfg.admin_keys),
            "max_question_chars": cfg.max_question_chars,
            "max_upload_bytes": cfg.max_upload_bytes,
            "generated_answers": bool(cfg.llm_url),
            "llm_timeout": cfg.llm_timeout if cfg.llm_url else None,
        }

    @app.get("/", include_in_schema=False)
    def web_chat() -> FileResponse:
        return FileResponse(STATIC / "index.html", headers={"Content-Security-Policy": PAGE_POLICY})

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url="/openapi.json",
            title="Bilim Assistant API",
            swagger_js_url="/docs-assets/swagger-ui-bundle.js",
            swagger_css_url="/docs-assets/swagger-ui.css",
            swagger_favicon_url="/docs-assets/favicon-32x32.png",
        )

    app.mount("/docs-assets", StaticFiles(directory=swagger_ui_bundle.swagger_ui_path), name="docs-assets")
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return app
