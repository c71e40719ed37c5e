"""Scores on pages: the record page's 评分与等级 card (loaded lazily by htmx from the slot in detail.html:
each score with its explanation table and grade history, and the record's pool, if any), and a ranking page
per score (/scores/{id}, e.g. the hospitals' heat ranking)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from runtime.api.deps import record_id as parse_record_id
from runtime.api.routes_scores import ranking
from runtime.automation.scores.compute import component_label
from runtime.blueprints.model import OptionSet, label_text
from runtime.errors import NotFound
from runtime.records.names import user_names
from ui.formatting import local_datetime_text, option_label
from ui.routes.tasks_common import page
from ui.templating import Crumb, render, render_fragment

router = APIRouter()


def grade_text(t: Any, grade: str | None, oset: OptionSet | None = None, lang: str = "zh") -> str:
    """A grade as people read it: the label of the grade field's option (热/温/凉/冷), else the
    platform's names for the usual gold/silver/bronze/iron, else the stored value."""
    if not grade:
        return ""
    if oset is not None and oset.find(grade) is not None:
        return option_label(oset, grade, lang, with_path=False)[0]
    text = t(f"score.grade.{grade}")
    return grade if text == f"score.grade.{grade}" else text


def grade_options(app: Any, score: dict[str, Any]) -> OptionSet | None:
    """The option set of the field a score writes its grade into, when that field is a select."""
    field_name = (score.get("grade") or {}).get("field")
    entity = app.registry.entities.get(score["entity"]) if field_name else None
    field = entity.field(field_name) if entity is not None else None
    set_id = field.opt("option_set") if field is not None else None
    return app.registry.option_set(set_id) if set_id else None


def _number(value: Any) -> str:
    if value is None:
        return "—"
    value = float(value) + 0.0  # + 0.0 turns -0.0 (a zero count times a negative weight) into 0
    return f"{value:g}" if value == int(value) else f"{value:.2f}"


@router.get("/r/{entity_id}/{rid}/scores")
def record_scores(request: Request, entity_id: str, rid: str) -> Response:
    """The card body: 404 unless the user may see the record."""
    p = page(request)
    ident = parse_record_id(rid)
    record = p.app.records.get(entity_id[:100], ident, p.ctx)
    with p.app.db.read() as conn:
        shown = p.app.scores.explanations(conn, entity_id, ident)
    panels = []
    for item in shown:
        score = item["score"]
        oset = grade_options(p.app, score)
        panels.append(
            {
                "id": score["id"],
                "label": label_text(score["label"], p.lang),
                "value": _number(item["value"]),
                "grade": item["grade"],
                "grade_text": grade_text(p.t, item["grade"], oset, p.lang),
                "computed": local_datetime_text(item["computed_at"].isoformat()) if item["computed_at"] else "",
                "components": [
                    {
                        "label": component_label(c, p.lang),
                        "inputs": (c.get("inputs") or {}).get(p.lang) or (c.get("inputs") or {}).get("en", ""),
                        "raw": _number(c.get("raw")),
                        "normalised": _number(c.get("normalised")),
                        "weight": _number(c.get("weight")),
                        "contribution": _number(c.get("contribution")),
                    }
                    for c in item["components"]
                ],
                "history": [
                    {
                        "from": grade_text(p.t, h["from_grade"], oset, p.lang) or "—",
                        "to": grade_text(p.t, h["to_grade"], oset, p.lang) or "—",
                        "to_value": h["to_grade"],
                        "score": _number(h["score"]),
                        "at": local_datetime_text(h["at"].isoformat()),
                    }
                    for h in item["history"]
                ],
            }
        )
    pools = []
    for pool in p.app.pools.of_entity(entity_id):
        owner = record.get(pool["owner_field"])
        in_pool = p.app.pools.in_pool(pool, record)
        names = user_names(p.app, [owner]) if isinstance(owner, int) else {}
        pools.append(
            {
                "id": pool["id"],
                "label": label_text(pool["label"], p.lang),
                "in_pool": in_pool,
                "owner": names.get(owner, "") if isinstance(owner, int) else "",
                "mine": owner == p.user.id,
            }
        )
    html = render_fragment(
        request,
        "automation/score_slot.html",
        p.user,
        mode="panel",
        panels=panels,
        pools=pools,
        record_id=ident,
        entity_id=entity_id,
    )
    return HTMLResponse(html)


@router.get("/scores/{score_id}")
def ranking_page(request: Request, score_id: str) -> Response:
    p = page(request)
    score = p.app.scores.get(score_id[:100])
    if not p.app.permissions.can(p.ctx, score["entity"], "read"):
        raise NotFound(f"unknown score '{score_id[:100]}'")
    rows = ranking(p.app, score, p.ctx, 100)
    oset = grade_options(p.app, score)
    for row in rows:
        row["score_text"] = _number(row["score"])
        row["grade_text"] = grade_text(p.t, row["grade"], oset, p.lang)
        row["href"] = f"/r/{score['entity']}/{row['id']}"
    title = label_text(score["label"], p.lang)
    return render(
        request,
        "automation/score_ranking.html",
        p.user,
        crumbs=[Crumb(p.t("nav.home"), "/"), Crumb(title)],
        page_title=title,
        title=title,
        entity=p.app.registry.entity(score["entity"]),
        rows=rows,
    )
