"""/admin/rules (PL-09): the deployed rules with their last run and failure counts, the recent failed
runs with their error, and a retry button (administrators only)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from runtime.api.deps import tessera as get_tessera
from runtime.automation.rules import runs
from runtime.errors import Forbidden
from ui.formatting import local_datetime_text
from ui.i18n import t
from ui.session import flash, require_user, ui_context
from ui.templating import Crumb, render

router = APIRouter()


def _admin(request: Request) -> tuple[Any, Any, Any]:
    user = require_user(request)
    ctx = ui_context(request, user)
    if not user.is_admin:
        raise Forbidden(t(ctx.lang, "logs.forbidden"))
    return user, ctx, get_tessera(request)


@router.get("/admin/rules")
def rules_page(request: Request) -> HTMLResponse:
    user, ctx, app = _admin(request)
    lang = ctx.lang
    with app.db.read() as conn:
        stats = runs.summary(conn)
        failed = runs.runs_of(conn, status="failed", limit=50)
        recent = runs.runs_of(conn, limit=20)
    rules = []
    for rule in sorted(app.automation.rules.by_id.values(), key=lambda r: r.id):
        s = stats.get(rule.id, {})
        rules.append(
            {
                "id": rule.id,
                "label": rule.label(lang),
                "entity": rule.entity or "—",
                "trigger": rule.describe_trigger(),
                "enabled": rule.enabled,
                "last": _time(s.get("last"), lang),
                "runs": s.get("runs", 0),
                "failures": s.get("failures", 0),
            }
        )
    return render(
        request,
        "automation/rules.html",
        user,
        crumbs=[
            Crumb(t(lang, "nav.home"), "/"),
            Crumb(t(lang, "logs.hub.title"), "/admin"),
            Crumb(t(lang, "rules.title")),
        ],
        page_title=t(lang, "rules.title"),
        rules=rules,
        failed=[_row(r, lang) for r in failed],
        recent=[_row(r, lang) for r in recent],
    )


def _time(value: Any, lang: str) -> str | None:
    if value is None:
        return None
    return local_datetime_text(value.isoformat() if hasattr(value, "isoformat") else str(value))


def _row(run: dict[str, Any], lang: str) -> dict[str, Any]:
    record = f"/r/{run['entity']}/{run['record_id']}" if run.get("entity") and run.get("record_id") else None
    return {**run, "time": _time(run["updated_at"], lang), "record_url": record}


@router.post("/admin/rules/retry")
async def retry(request: Request) -> Response:
    user, ctx, app = _admin(request)
    form = await request.form()
    key = form.get("key")
    done = isinstance(key, str) and 0 < len(key) <= 300 and app.automation.retry(key)
    flash(request, "success" if done else "warning", t(ctx.lang, "rules.retried" if done else "rules.not_retried"))
    return RedirectResponse("/admin/rules", status_code=303)
