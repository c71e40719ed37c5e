"""Applying HIS messages through the records service: one transaction per message, serialized per
patient, idempotent by control id, and never letting an older event overwrite newer data.

A message arrives already translated (runtime/his/hl7v2.py, runtime/his/fhir.py) into an
:class:`Inbound`: what happened (admit, discharge, update, merge, cancel), the patient's and the stay's
field values, the event time and the control id. This module knows nothing of HL7 or FHIR syntax.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from runtime.errors import RecordInvalid, TesseraError
from runtime.his.mapping import HisMapping, ValueProblem, active_mapping
from runtime.his.tables import his_messages
from runtime.records import Context, ListQuery
from runtime.records.query import Filter
from runtime.records.service import joined_transaction

log = logging.getLogger("tessera.his")
MAX_RAW = 1_000_000
REPLAYABLE = ("applied", "stale")
"""Outcomes whose control id answers a replay with the stored reply (a rejected message may be fixed and resent)."""


class Rejection(Exception):
    """A message that cannot be applied as it is: ``code`` AE (bad data) or AR (not understood)."""

    def __init__(self, message: str, *, code: str = "AE", path: str | None = None):
        super().__init__(message)
        self.message = message
        self.code = code
        self.path = path


@dataclass
class Inbound:
    """One HIS message, reduced to what the mapping says it means."""

    channel: str  # mllp, http, fhir
    message_type: str  # ADT^A01, Patient, Encounter
    raw: str
    action: str = "update"  # admit, discharge, update, merge, cancel
    control_id: str | None = None
    patient_key: str | None = None
    event_time: datetime | None = None
    patient: dict[str, Any] = field(default_factory=dict)
    stay: dict[str, Any] = field(default_factory=dict)
    merge_from: str | None = None
    patient_must_exist: bool = False
    """A FHIR Encounter names its patient but carries no demographics: the patient must be known."""
    paths: dict[tuple[str, str], str] = field(default_factory=dict)
    """(entity, field) -> the message path it came from, so a field error names PID-7, not birth_date."""


@dataclass
class Outcome:
    outcome: str  # applied, duplicate, stale, rejected, error
    code: str  # AA, AE, AR
    reply: str
    error: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)
    log_id: int | None = None


ReplyMaker = Callable[[str, str | None, dict[str, Any]], str]
"""(code, error text, detail) -> the reply text (an HL7 ACK, a FHIR OperationOutcome as JSON)."""


class HisService:
    """What every inbound channel calls: MLLP, HTTP HL7 and FHIR."""

    def __init__(self, tessera: Any, *, user_id: int | None = None):
        self.tessera = tessera
        self.user_id = user_id

    @property
    def mapping(self) -> HisMapping:
        found = active_mapping(self.tessera.registry)
        if found is None:
            raise Rejection("no HIS mapping is deployed (a pack's his/*.json)", code="AR")
        return found

    def context(self) -> Context:
        return Context(user_id=self.user_id, channel="his", lang="en", is_admin=True)

    # the one entry point -------------------------------------------------------------------------
    def process(self, msg: Inbound, make_reply: ReplyMaker) -> Outcome:
        try:
            with self.tessera.db.write() as conn, joined_transaction(conn):
                self._lock(conn, [k for k in (msg.patient_key, msg.merge_from) if k])
                prior = self._prior(conn, msg.control_id, msg.channel)
                if prior is not None:
                    detail = {**(prior.detail or {}), "replay_of": prior.id}
                    log_id = self._log(conn, msg, "duplicate", prior.reply, None, detail)
                    return Outcome(
                        "duplicate", (prior.detail or {}).get("code", "AA"), prior.reply, None, detail, log_id
                    )
                outcome, detail = self._apply(msg)
                detail["code"] = "AA"
                reply = make_reply("AA", None, detail)
                log_id = self._log(conn, msg, outcome, reply, None, detail)
                return Outcome(outcome, "AA", reply, None, detail, log_id)
        except Rejection as exc:
            text = f"{exc.path}: {exc.message}" if exc.path and not exc.message.startswith(exc.path) else exc.message
            return self.refuse(msg, make_reply, exc.code, text, "rejected")
        except ValueProblem as exc:
            return self.refuse(msg, make_reply, "AE", str(exc), "rejected")
        except RecordInvalid as exc:
            return self.refuse(msg, make_reply, "AE", self._field_errors(msg, exc), "rejected")
        except TesseraError as exc:
            return self.refuse(msg, make_reply, "AE", exc.message, "rejected")
        except Exception as exc:  # noqa: BLE001 - the stream must go on; the log keeps the reason
            log.exception("HIS message %s failed", msg.control_id)
            first_line = (str(exc).splitlines() or [""])[0][:300]
            return self.refuse(msg, make_reply, "AE", f"internal error: {type(exc).__name__}: {first_line}", "error")

    def refuse(self, msg: Inbound, make_reply: ReplyMaker, code: str, text: str, outcome: str) -> Outcome:
        detail = {"code": code}
        reply = make_reply(code, text, detail)
        with self.tessera.db.write() as conn:
            log_id = self._log(conn, msg, outcome, reply, text, detail)
        return Outcome(outcome, code, reply, text, detail, log_id)

    def _field_errors(self, msg: Inbound, exc: RecordInvalid) -> str:
        parts = []
        for error in exc.errors:
            name = error.field or "record"
            where = next((p for (_, f), p in msg.paths.items() if f == name), None)
            parts.append(f"{where} ({name}): {error.message}" if where else f"{name}: {error.message}")
        return "; ".join(parts)

    # log and locks -------------------------------------------------------------------------------
    def _lock(self, conn: Connection, keys: list[str]) -> None:
        """Serialize messages of one patient: a PostgreSQL advisory lock held until commit (SQLite
        serializes every write transaction already, BEGIN IMMEDIATE)."""
        if conn.dialect.name != "postgresql":
            return
        for key in sorted(set(keys)):  # one order for all: a merge of A into B never deadlocks B into A
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(hashtext(:k))"), {"k": f"tessera.his:{key}"})

    def _prior(self, conn: Connection, control_id: str | None, channel: str) -> Any:
        if not control_id:
            return None
        protocol = "fhir" if channel == "fhir" else "hl7"
        channels = ("fhir",) if protocol == "fhir" else ("mllp", "http")
        return conn.execute(
            sa.select(his_messages.c.id, his_messages.c.reply, his_messages.c.detail)
            .where(
                his_messages.c.control_id == control_id[:200],
                his_messages.c.outcome.in_(REPLAYABLE),
                his_messages.c.channel.in_(channels),
            )
            .order_by(his_messages.c.id)
            .limit(1)
        ).first()

    def _log(
        self, conn: Connection, msg: Inbound, outcome: str, reply: str | None, error: str | None, detail: dict
    ) -> int:
        row = {
            "received_at": self.tessera.clock.now(),
            "channel": msg.channel,
            "control_id": (msg.control_id or "")[:200] or None,
            "message_type": (msg.message_type or "?")[:40],
            "patient_key": (msg.patient_key or "")[:100] or None,
            "event_time": msg.event_time,
            "outcome": outcome,
            "error": error,
            "raw": msg.raw[:MAX_RAW],
            "reply": reply,
            "detail": detail,
        }
        return conn.execute(sa.insert(his_messages).values(**row)).inserted_primary_key[0]

    # applying ------------------------------------------------------------------------------------
    def _find(self, entity: str, key_field: str, value: Any) -> dict[str, Any] | None:
        query = ListQuery(filters=[Filter(key_field, "eq", value)], limit=2, count="none")
        items = self.tessera.records.list(entity, query, self.context()).items
        return items[0] if items else None

    def _newer(self, record: dict[str, Any], stamp_field: str | None, event_time: datetime | None) -> bool:
        """True when the record already holds a newer HIS event than this one (the message is stale)."""
        if stamp_field is None or event_time is None or not record.get(stamp_field):
            return False
        return datetime.fromisoformat(record[stamp_field]) > event_time

    @staticmethod
    def _changes(record: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in values.items() if record.get(k) != v}

    def _apply(self, msg: Inbound) -> tuple[str, dict[str, Any]]:
        m = self.mapping
        if not msg.patient_key:
            raise Rejection("the patient identifier is missing", path=msg.paths.get((m.patient_entity, m.patient_key)))
        if msg.action == "merge":
            return self._merge(m, msg)
        stamp = msg.event_time.isoformat(timespec="seconds") if msg.event_time else None
        records = self.tessera.records
        ctx = self.context()
        detail: dict[str, Any] = {"action": msg.action}
        wrote = stale = False
        patient_values = {k: (None if v == "" else v) for k, v in msg.patient.items()}
        patient_values[m.patient_key] = msg.patient_key
        stay_values = {k: (None if v == "" else v) for k, v in msg.stay.items()}
        status = m.stay_status.get(msg.action)
        if status and m.stay_status_field:
            stay_values[m.stay_status_field] = status

        for mine, theirs in m.mirror.items():  # an error in a mirrored field names where the stay's value came from
            if (m.stay_entity, theirs) in msg.paths:
                msg.paths.setdefault((m.patient_entity, mine), msg.paths[(m.stay_entity, theirs)])
        patient = self._find(m.patient_entity, m.patient_key, msg.patient_key)
        if patient is not None and m.merged_into and patient.get(m.merged_into):
            detail["redirected_from"] = patient["id"]  # merged away: the surviving record gets the news
            patient_values.pop(m.patient_key, None)  # the survivor keeps its own HIS id
            patient = records.get(m.patient_entity, int(patient[m.merged_into]), ctx)
        created_patient = patient is None
        if created_patient and msg.patient_must_exist:
            where = msg.paths.get((m.patient_entity, m.patient_key))
            raise Rejection(f"no {m.patient_entity} with {m.patient_key} '{msg.patient_key}'", path=where)
        if created_patient:
            mirror = {k: v for k, v in self._mirror(m, stay_values).items() if v is not None}
            values = {**patient_values, **mirror}
            if m.patient_updated_at and stamp:
                values[m.patient_updated_at] = stamp
            patient = records.create(m.patient_entity, values, ctx)
            detail["patient"] = {"id": patient["id"], "created": True}
            wrote = True
        patient_stale = not created_patient and self._newer(patient, m.patient_updated_at, msg.event_time)

        stay = None
        stay_key = stay_values.get(m.stay_key)
        if stay_key:
            stay_values[m.stay_patient_field] = patient["id"]
            stay = self._find(m.stay_entity, m.stay_key, stay_key)
            if stay is None:
                if msg.action == "cancel":
                    raise Rejection(
                        f"no {m.stay_entity} with {m.stay_key} '{stay_key}' to cancel",
                        path=msg.paths.get((m.stay_entity, m.stay_key)),
                    )
                if m.stay_updated_at and stamp:
                    stay_values[m.stay_updated_at] = stamp
                stay = records.create(m.stay_entity, {k: v for k, v in stay_values.items() if v is not None}, ctx)
                detail["stay"] = {"id": stay["id"], "created": True}
                wrote = True
            elif self._newer(stay, m.stay_updated_at, msg.event_time):
                stale = True
                detail["stay"] = {"id": stay["id"], "stale": True}
                stay = None
            else:
                changes = self._changes(stay, {k: v for k, v in stay_values.items() if v is not None})
                if m.stay_updated_at and stamp and stay.get(m.stay_updated_at) != stamp:
                    changes[m.stay_updated_at] = stamp  # even with equal data: older news must not win later
                if changes:
                    stay = records.update(m.stay_entity, stay["id"], changes, ctx, expected_version=None)
                    wrote = True
                detail["stay"] = {"id": stay["id"], "changed": sorted(changes)}

        if not created_patient:
            if patient_stale:
                stale = True
                detail["patient"] = {"id": patient["id"], "stale": True}
            else:
                values = {k: v for k, v in patient_values.items() if v is not None or k in msg.patient}
                if stay is not None and self._is_latest(m, patient, stay):
                    values.update(self._mirror(m, stay))
                changes = self._changes(patient, values)
                if m.patient_updated_at and stamp and patient.get(m.patient_updated_at) != stamp:
                    changes[m.patient_updated_at] = stamp  # even with equal data: older news must not win later
                if changes:
                    patient = records.update(m.patient_entity, patient["id"], changes, ctx, expected_version=None)
                    wrote = True
                detail["patient"] = {"id": patient["id"], "changed": sorted(changes)}
        elif stay is not None and m.mirror:
            mirror = self._changes(patient, self._mirror(m, stay))
            if mirror:
                records.update(m.patient_entity, patient["id"], mirror, ctx, expected_version=None)
        return ("stale" if stale and not wrote else "applied"), detail

    @staticmethod
    def _mirror(m: HisMapping, stay: dict[str, Any]) -> dict[str, Any]:
        """The patient's copy of the latest stay: empty values too (a new stay has no discharge time yet)."""
        return {mine: stay.get(theirs) for mine, theirs in m.mirror.items()}

    def _stay_order(self, m: HisMapping) -> tuple[str, str] | None:
        """(patient field, stay field) that say which stay is the latest: the first mirrored datetime field
        (the admission time in the shipped mappings)."""
        stay_entity = self.tessera.registry.entity(m.stay_entity)
        for mine, theirs in m.mirror.items():
            f = stay_entity.field(theirs)
            if f is not None and f.type in ("datetime", "date"):
                return mine, theirs
        return None

    def _is_latest(self, m: HisMapping, patient: dict[str, Any], stay: dict[str, Any]) -> bool:
        """Is this stay the patient's latest? Compared with the time mirrored on the patient."""
        order = self._stay_order(m)
        if order is None or not patient.get(order[0]) or not stay.get(order[1]):
            return True
        return str(stay[order[1]]) >= str(patient[order[0]])

    def _mirror_latest(self, m: HisMapping, patient: dict[str, Any]) -> None:
        """After a merge the surviving patient may have gained a later stay: mirror the latest one."""
        order = self._stay_order(m)
        if order is None:
            return
        query = ListQuery(
            filters=[Filter(m.stay_patient_field, "eq", patient["id"])], sort=[(order[1], True)], limit=1, count="none"
        )
        latest = self.tessera.records.list(m.stay_entity, query, self.context()).items
        if latest:
            changes = self._changes(patient, self._mirror(m, latest[0]))
            if changes:
                self.tessera.records.update(
                    m.patient_entity, patient["id"], changes, self.context(), expected_version=None
                )

    def _merge(self, m: HisMapping, msg: Inbound) -> tuple[str, dict[str, Any]]:
        """A40: every reference to the prior patient moves to the surviving one; the prior record keeps
        its data and is marked merged_into the survivor (so nothing is lost and a replay is harmless)."""
        records, ctx = self.tessera.records, self.context()
        if not msg.merge_from:
            raise Rejection("the prior patient identifier to merge is missing", path=m.merge_from)
        if msg.merge_from == msg.patient_key:
            raise Rejection(f"a patient cannot be merged into itself ('{msg.patient_key}')", path=m.merge_from)
        old = self._find(m.patient_entity, m.patient_key, msg.merge_from)
        if old is None:
            raise Rejection(
                f"no {m.patient_entity} with {m.patient_key} '{msg.merge_from}' to merge", path=m.merge_from
            )
        survivor = self._find(m.patient_entity, m.patient_key, msg.patient_key)
        detail: dict[str, Any] = {"action": "merge", "from": old["id"]}
        if survivor is None:
            values = {k: v for k, v in msg.patient.items() if v not in (None, "")}
            values[m.patient_key] = msg.patient_key
            if m.patient_updated_at and msg.event_time:
                values[m.patient_updated_at] = msg.event_time.isoformat(timespec="seconds")
            survivor = records.create(m.patient_entity, values, ctx)
        detail["into"] = survivor["id"]
        if m.merged_into and old.get(m.merged_into) == survivor["id"]:
            detail["moved"] = {}
            return "applied", detail
        moved: dict[str, int] = {}
        for entity, name in self.tessera.registry.referencing_fields(m.patient_entity):
            if entity.id == m.patient_entity and name == m.merged_into:
                continue
            ids: list[int] = []
            cursor: str | None = None
            while True:  # collect first, then move: a page read after a move may come from another snapshot
                query = ListQuery(filters=[Filter(name, "eq", old["id"])], limit=200, cursor=cursor, count="none")
                page = records.list(entity.id, query, ctx)
                ids.extend(item["id"] for item in page.items)
                cursor = page.next_cursor
                if not cursor:
                    break
            for item_id in ids:
                records.update(entity.id, item_id, {name: survivor["id"]}, ctx, expected_version=None)
            count = len(ids)
            if count:
                moved[f"{entity.id}.{name}"] = count
        values: dict[str, Any] = dict(m.merged_set)
        if m.merged_into:
            values[m.merged_into] = survivor["id"]
        if m.patient_updated_at and msg.event_time:
            values[m.patient_updated_at] = msg.event_time.isoformat(timespec="seconds")
        if values:
            records.update(m.patient_entity, old["id"], values, ctx, expected_version=None)
        if moved and m.mirror:
            self._mirror_latest(m, records.get(m.patient_entity, survivor["id"], ctx))
        detail["moved"] = moved
        return "applied", detail
