"""The ASGI application: API routes, sessions, request ids, error handlers, and installed extensions.

The web UI is an extension found through the `tessera.extensions` entry point group, so the
runtime never imports the ui package (dependencies point one way: ui -> runtime).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable
from importlib.metadata import entry_points

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from starlette.middleware.sessions import SessionMiddleware

from runtime import __version__
from runtime.api import (
    routes_actions,
    routes_admin,
    routes_auth,
    routes_exports,
    routes_files,
    routes_followups,
    routes_his,
    routes_imports,
    routes_meta,
    routes_notify,
    routes_people,
    routes_pools,
    routes_records,
    routes_reports,
    routes_scores,
    routes_search,
    routes_segments,
    routes_tokens,
    routes_workflows,
)
from runtime.api.errors import install_error_handlers
from runtime.api.metrics import install_metrics
from runtime.api.openapi import install_openapi
from runtime.config import Settings
from runtime.notify.unsubscribe import router as unsubscribe_router
from runtime.services import Tessera

log = logging.getLogger("tessera")
Extension = Callable[[FastAPI, Tessera], None]


def installed_extensions() -> list[Extension]:
    return [ep.load() for ep in entry_points(group="tessera.extensions")]


def create_app(tessera: Tessera | None = None, *, extensions: list[Extension] | None = None) -> FastAPI:
    tessera = tessera or Tessera(Settings.from_env())
    app = FastAPI(title="Tessera", docs_url="/api/docs", redoc_url=None, openapi_url="/api/v1/openapi.json")
    app.state.tessera = tessera
    app.add_middleware(
        SessionMiddleware,
        secret_key=tessera.settings.secret_key,
        session_cookie="tessera_session",
        max_age=tessera.settings.session_max_age,
        same_site="lax",
        https_only=False,
    )
    app.add_middleware(routes_admin.ModuleSwitchGuard)  # inside the request-id middleware: 404s carry the id

    @app.middleware("http")
    async def _request_id(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        incoming = request.headers.get("x-request-id", "")
        request.state.request_id = incoming if incoming.isalnum() and len(incoming) <= 64 else uuid.uuid4().hex
        if "%00" in request.url.query or "\x00" in request.url.query:
            # no field, filter or name may contain NUL (PostgreSQL cannot even compare with it): refuse at the door
            body = {
                "error": {
                    "code": "bad_request",
                    "message": "query parameters may not contain NUL characters",
                    "request_id": request.state.request_id,
                }
            }
            return JSONResponse(body, status_code=400, headers={"X-Request-ID": request.state.request_id})
        tessera.registry.refresh_if_changed()
        response = await call_next(request)
        response.headers["X-Request-ID"] = request.state.request_id
        return response

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> Response:
        """Liveness and readiness for load balancers: 200 when the database answers, 503 when not."""
        try:
            with tessera.db.read() as conn:
                conn.exec_driver_sql("SELECT 1")
        except Exception:  # noqa: BLE001 - any failure means "not ready"
            log.warning("health check: database unavailable", exc_info=True)
            return JSONResponse({"status": "unavailable", "database": "down"}, status_code=503)
        return JSONResponse({"status": "ok", "database": "ok", "version": __version__})

    install_error_handlers(app)
    install_metrics(app, tessera)  # outermost middleware: times everything, serves /metrics
    for router in (
        routes_auth.router,
        routes_meta.router,
        routes_admin.router,
        routes_exports.router,  # before the records routes: /{entity}/export is not a record id
        routes_imports.router,  # likewise /{entity}/import (runtime/records/imports)
        routes_search.router,
        routes_actions.router,  # record actions and inbound events (runtime/automation/states, rules)
        routes_reports.router,  # reports, dashboards, scheduled delivery (runtime/reports)
        routes_records.router,
        routes_files.router,
        routes_tokens.router,
        routes_people.router,
        routes_workflows.router,
        routes_notify.router,  # notifications, templates, delivery log (runtime/notify)
        routes_followups.router,  # follow-up plans and work items (runtime/automation/followups)
        routes_pools.router,  # pools (runtime/automation/pools)
        routes_scores.router,  # scores and rankings (runtime/automation/scores)
        routes_segments.router,  # saved target groups of records (runtime/segments)
        routes_his.router,  # HIS inbound HL7 v2 / FHIR and the message log (runtime/his)
        unsubscribe_router,  # contacts' one-click opt-out links (runtime/notify/unsubscribe.py)
    ):
        app.include_router(router)
    app.state.jobs = tessera.jobs  # runtime/jobs; `tessera serve` turns its in-process runner on
    app.router.on_startup.append(tessera.jobs.start)
    app.router.on_shutdown.append(tessera.jobs.stop)
    install_openapi(app)
    for extension in installed_extensions() if extensions is None else extensions:
        extension(app, tessera)
    return app
