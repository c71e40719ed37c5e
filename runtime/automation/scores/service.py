"""Keeping scores current: recompute on events (an after-write hook defers a job) and nightly (batched),
store the value in the record field through the records service (so audit and permissions apply), its
explanation in ``tessera_score_explanations`` and grade changes in ``tessera_grade_history``.
"""

from __future__ import annotations

import logging
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from runtime.automation.scores.compute import Result, compute, load_records
from runtime.automation.scores.tables import grade_history, score_explanations
from runtime.automation.scores.where import field_names
from runtime.errors import NotFound
from runtime.expressions import compile_expression
from runtime.records.context import Context
from runtime.records.hooks import WriteEvent
from runtime.records.service import joined_transaction

log = logging.getLogger("tessera.scores")
RECOMPUTE_TASK = "scores.recompute"
NIGHTLY_TASK = "scores.nightly"
BATCH = 500
SCORE_CTX = Context(channel="system", lang="en", is_admin=True)
"""Who writes scores: the system (audit shows a system change, never a person)."""


class Scores:
    """The score engine of one application (``app.scores``)."""

    def __init__(self, app: Any) -> None:
        self.app = app
        app.hooks.after_write.append(self.after_write)
        jobs = getattr(app, "jobs", None)
        if jobs is not None:
            jobs.task(RECOMPUTE_TASK, retries=5, retry_seconds=60)(self._run_recompute)
            jobs.task(NIGHTLY_TASK, retries=3, retry_seconds=600)(lambda payload: self.recompute_all())
            jobs.every(NIGHTLY_TASK, cron="30 2 * * *")

    # definitions ------------------------------------------------------------------------------------
    def definitions(self) -> dict[str, dict]:
        return self.app.registry.extras("score")

    def get(self, score_id: str) -> dict:
        score = self.definitions().get(score_id)
        if score is None:
            raise NotFound(f"unknown score '{score_id[:100]}'")
        return score

    def of_entity(self, entity_id: str) -> list[dict]:
        return sorted((s for s in self.definitions().values() if s["entity"] == entity_id), key=lambda s: s["id"])

    # events -----------------------------------------------------------------------------------------
    def targets(self, event: WriteEvent) -> set[tuple[str, int]]:
        """(score id, record id) pairs a write makes stale; writes of only a score's outputs make none."""
        changed = set(event.changed_fields) - {"version", "updated_at", "updated_by"}
        found: set[tuple[str, int]] = set()
        for score in self.definitions().values():
            outputs = {score["field"]} | ({score["grade"]["field"]} if score.get("grade") else set())
            for watch in watched(score):
                if watch["entity"] != event.entity.id:
                    continue
                fields = set(watch.get("fields") or ()) or (changed - outputs)
                if event.action == "update" and not (changed & fields):
                    continue
                if watch["entity"] == score["entity"]:
                    if event.action != "delete" and event.record_id is not None:
                        found.add((score["id"], event.record_id))
                    continue
                for via in watch.get("via", ()):
                    for side in (event.before, event.after):
                        rid = (side or {}).get(via)
                        if isinstance(rid, int) and not isinstance(rid, bool):
                            found.add((score["id"], rid))
        return found

    def after_write(self, event: WriteEvent) -> None:
        targets = self.targets(event)
        if not targets:
            return
        jobs = getattr(self.app, "jobs", None)
        version = (event.after or event.before or {}).get("version", 0)
        stamp = f"{event.entity.id}:{event.record_id}:{version}:{event.action}"
        for score_id, rid in sorted(targets):
            if jobs is None:  # no job engine in this application: recompute in the write's transaction
                with joined_transaction(event.conn):
                    self.recompute(event.conn, score_id, [rid])
                continue
            jobs.defer(
                RECOMPUTE_TASK,
                {"score": score_id, "record_id": rid},
                key=f"score:{score_id}:{rid}:{stamp}",
                conn=event.conn,
            )

    def _run_recompute(self, payload: dict) -> None:
        score_id, rid = payload["score"], int(payload["record_id"])
        if score_id not in self.definitions():
            return  # the pack that defined it was changed since
        with self.app.db.write() as conn, joined_transaction(conn):
            self.recompute(conn, score_id, [rid])

    # recomputing ------------------------------------------------------------------------------------
    def recompute(self, conn: Connection, score_id: str, ids: list[int]) -> dict[int, Result]:
        """Recompute and store ``score_id`` for ``ids`` in ``conn``'s (joined) transaction."""
        score = self.get(score_id)
        records = load_records(self.app, conn, score, ids)
        gone = set(ids) - set(records)
        if gone:
            t = score_explanations.c
            conn.execute(sa.delete(score_explanations).where(t.score_id == score_id, t.record_id.in_(gone)))
        results = compute(self.app, conn, score, records) if records else {}
        for rid, result in results.items():
            self._store(conn, score, rid, records[rid], result)
        return results

    def recompute_all(self, score_id: str | None = None) -> int:
        """Every record of every score (nightly, so recency decay moves on): batches of 500, one transaction
        each, keyed by id so a long run never holds one huge transaction."""
        done = 0
        for score in [self.get(score_id)] if score_id else list(self.definitions().values()):
            table = self.app.registry.tables[score["entity"]].main
            last = 0
            while True:
                with self.app.db.write() as conn, joined_transaction(conn):
                    ids = list(
                        conn.execute(
                            sa.select(table.c.id).where(table.c.id > last).order_by(table.c.id).limit(BATCH)
                        ).scalars()
                    )
                    if not ids:
                        break
                    self.recompute(conn, score["id"], ids)
                done += len(ids)
                last = ids[-1]
        return done

    def _store(self, conn: Connection, score: dict, rid: int, current: dict, result: Result) -> None:
        now = self.app.clock.now()
        grade_field = score["grade"]["field"] if score.get("grade") else None
        f = self.app.registry.entity(score["entity"]).field(score["field"])
        value: Any = int(round(result.value)) if f is not None and f.type == "integer" else result.value
        old_value = current.get(score["field"])
        old_grade = current.get(grade_field) if grade_field else None
        changes: dict[str, Any] = {}
        if old_value is None or float(old_value) != float(value):
            changes[score["field"]] = value
        if grade_field and old_grade != result.grade:
            changes[grade_field] = result.grade
        if changes:
            self.app.records.update(score["entity"], rid, changes, SCORE_CTX, expected_version=None)
        if grade_field and old_grade != result.grade:
            conn.execute(
                sa.insert(grade_history).values(
                    score_id=score["id"],
                    entity=score["entity"],
                    record_id=rid,
                    from_grade=old_grade,
                    to_grade=result.grade,
                    score=result.value,
                    at=now,
                )
            )
        t = score_explanations.c
        values = {"value": result.value, "grade": result.grade, "components": result.components, "computed_at": now}
        updated = conn.execute(
            sa.update(score_explanations).where(t.score_id == score["id"], t.record_id == rid).values(**values)
        ).rowcount
        if not updated:
            conn.execute(
                sa.insert(score_explanations).values(
                    score_id=score["id"], entity=score["entity"], record_id=rid, **values
                )
            )

    # reading ----------------------------------------------------------------------------------------
    def explanations(self, conn: Connection, entity_id: str, rid: int) -> list[dict[str, Any]]:
        """Each score of the record: value, grade, components and grade history (record page, API)."""
        out = []
        for score in self.of_entity(entity_id):
            t, h = score_explanations.c, grade_history.c
            row = conn.execute(
                sa.select(score_explanations).where(t.score_id == score["id"], t.record_id == rid)
            ).first()
            history = conn.execute(
                sa.select(grade_history)
                .where(h.score_id == score["id"], h.record_id == rid)
                .order_by(h.at.desc(), h.id.desc())
                .limit(50)
            ).all()
            out.append(
                {
                    "score": score,
                    "value": None if row is None else row.value,
                    "grade": None if row is None else row.grade,
                    "components": [] if row is None else row.components,
                    "computed_at": None if row is None else row.computed_at,
                    "history": [dict(r._mapping) for r in history],
                }
            )
        return out


def watched(score: dict) -> list[dict]:
    """What makes a score stale: ``recompute.on_change_of``, else the scored entity's fields its value
    components read and every aggregated entity. Entries carry ``via`` (reference fields back to the
    scored record) for other entities."""
    explicit = (score.get("recompute") or {}).get("on_change_of")
    vias: dict[str, set[str]] = {}
    own: set[str] = set()
    for comp in score["components"]:
        if "aggregate" in comp:
            agg = comp["aggregate"]
            vias.setdefault(agg["entity"], set()).add(agg["via"])
        else:
            own |= set(compile_expression(comp["value"]).names)
            if comp.get("decay"):
                own.add(comp["decay"]["date_field"])
    if explicit:
        return [
            {**w, "via": sorted(vias.get(w["entity"], ()))} if w["entity"] != score["entity"] else w for w in explicit
        ]
    out: list[dict] = [{"entity": score["entity"], "fields": sorted(own)}] if own else []
    for comp in score["components"]:
        agg = comp.get("aggregate")
        if agg:
            fields = {agg["via"], *filter(None, [agg.get("field"), agg.get("date_field")])}
            if agg.get("where"):
                fields |= field_names(agg["where"])
            if comp.get("decay"):
                fields.add(comp["decay"]["date_field"])
            out.append({"entity": agg["entity"], "fields": sorted(fields), "via": [agg["via"]]})
    return out
