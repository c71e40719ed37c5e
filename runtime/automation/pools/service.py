"""Pools (公海, PL-12): claim, release, assign, recycle and the daily auto-recycle.

Every operation is one records-service update (audit, validation) plus a row in ``tessera_pool_events``
(who, what, when), in one transaction. The event log also answers the rules: claims today (claim cap),
the last claim (protection against being taken away), the last recycle and its previous owner (no
re-claim during protection), and the warning already sent for the current cycle.

A record's inactivity clock starts at the latest of: its ``last_activity_field``, the newest related
``activity`` row, its last claim/assign, its creation. ``warn_before_days`` before it reaches
``recycle_after_days`` its holder is notified once per cycle (notifier key per record + cycle start);
at ``recycle_after_days`` it goes back to the pool.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from runtime.automation.assignment import assign as assign_user
from runtime.automation.pools.tables import pool_events
from runtime.automation.scores.compute import as_datetime
from runtime.blueprints.model import label_text
from runtime.clock import local_zone
from runtime.errors import Conflict, Forbidden, NotFound
from runtime.records.context import Context
from runtime.records.service import joined_transaction
from runtime.storage import platform_tables as pt

log = logging.getLogger("tessera.pools")
AUTO_RECYCLE_TASK = "pools.auto_recycle"
TAKING = ("claim", "assign")

TEXTS = {
    "not_in_pool": {
        "zh": "该记录不在公海中（可能已被他人领取）",
        "en": "this record is not in the pool (someone may have claimed it)",
    },
    "claim_cap": {"zh": "今日领取已达上限（{n}/{cap}）", "en": "you have reached today's claim limit ({n}/{cap})"},
    "holding_cap": {
        "zh": "持有数量已达上限（{n}/{cap}），请先释放",
        "en": "the holding limit is reached ({n}/{cap}); release some first",
    },
    "reclaim_protected": {
        "zh": "该记录从你名下回收未满 {days} 天，{until} 之前不能再次领取",
        "en": "this record was recycled from you less than {days} days ago; you may claim it again after {until}",
    },
    "claim_protected": {
        "zh": "该记录在保护期内（领取后 {days} 天，至 {until}），不能转给他人或回收",
        "en": "this record is protected until {until} ({days} days after its claim); it cannot be taken away yet",
    },
    "not_holder": {
        "zh": "只有持有人或主管可以释放该记录",
        "en": "only its holder or a manager may release this record",
    },
    "not_held": {"zh": "该记录当前没有持有人", "en": "this record has no holder"},
    "no_claim_role": {"zh": "你的角色不能从该公海领取", "en": "your roles may not claim from this pool"},
    "no_assign_role": {"zh": "只有主管可以分配或回收", "en": "only a manager may assign or recycle"},
    "nobody": {"zh": "没有可分配的人员", "en": "nobody matches the pool's assignment"},
    "no_user": {"zh": "没有这个用户（或已停用）", "en": "no such active user"},
    "warn_title": {"zh": "「{title}」将在 {days} 天后回收到公海", "en": "'{title}' returns to the pool in {days} days"},
    "warn_body": {
        "zh": "已 {idle} 天没有跟进；请在 {due} 前跟进，否则将自动回收到「{pool}」。",
        "en": "No follow-up for {idle} days; follow up before {due} or it returns to '{pool}'.",
    },
}


class PoolRefused(Conflict):
    """A pool rule said no: 409 with code ``pool_<reason>`` (pool_claim_cap, pool_holding_cap, pool_protected,
    pool_not_in_pool, pool_not_held, pool_nobody, pool_no_user) and a plain message."""

    code = "pool_refused"

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.code = f"pool_{reason}"


def text(key: str, lang: str, **kw: Any) -> str:
    return TEXTS[key]["zh" if lang == "zh" else "en"].format(**kw)


@dataclass
class Standing:
    """A user's counters in a pool (shown as "今日已领 3/5")."""

    claimed_today: int
    claim_cap: int | None
    holding: int
    holding_cap: int | None


class Pools:
    """The pools of one application (``app.pools``)."""

    def __init__(self, app: Any) -> None:
        self.app = app
        permissions = getattr(app, "permissions", None)
        if permissions is not None:
            permissions.read_wideners.append(self.read_widening)
        jobs = getattr(app, "jobs", None)
        if jobs is not None:
            jobs.task(AUTO_RECYCLE_TASK, retries=3, retry_seconds=600)(lambda payload: self.auto_recycle())
            jobs.every(AUTO_RECYCLE_TASK, cron="0 1 * * *")

    # definitions ------------------------------------------------------------------------------------
    def definitions(self) -> dict[str, dict]:
        return self.app.registry.extras("pool")

    def get(self, pool_id: str) -> dict:
        pool = self.definitions().get(pool_id)
        if pool is None:
            raise NotFound(f"unknown pool '{pool_id[:100]}'")
        return pool

    def of_entity(self, entity_id: str) -> list[dict]:
        return sorted((p for p in self.definitions().values() if p["entity"] == entity_id), key=lambda p: p["id"])

    def _table(self, pool: dict) -> sa.Table:
        return self.app.registry.tables[pool["entity"]].main

    def in_pool(self, pool: dict, record: dict) -> bool:
        """Free for claiming: a pool value in the status field, or, for a pool without status, no holder."""
        if not pool.get("status_field"):
            return record.get(pool["owner_field"]) is None
        return record.get(pool["status_field"]) in pool["pool_values"]

    def _free(self, pool: dict, table: sa.Table) -> sa.ColumnElement[bool]:
        """SQL twin of ``in_pool``."""
        if not pool.get("status_field"):
            return table.c[pool["owner_field"]].is_(None)
        return table.c[pool["status_field"]].in_(pool["pool_values"])

    def read_widening(self, entity: Any, subject: Any, table: sa.Table) -> sa.ColumnElement[bool] | None:
        """A pool is public to its claimers: who holds a claim role (anyone, without claim_roles) and may read
        the entity at all also sees the records in the pool, whatever their read scope (own, department),
        so a liaison can look at a lead before claiming it. Held records stay in their holders' scopes."""
        if subject.user_id is None:
            return None
        seen = []
        for pool in self.of_entity(entity.id):
            roles = pool.get("claim_roles")
            if roles and not set(subject.roles) & set(roles):
                continue
            if (pool.get("status_field") or pool["owner_field"]) in table.c:
                seen.append(self._free(pool, table))
        return sa.or_(*seen) if seen else None

    # who may ----------------------------------------------------------------------------------------
    def roles_of(self, conn: Connection, ctx: Context) -> set[str]:
        ur = pt.user_roles.c
        held = set(conn.execute(sa.select(ur.role_id).where(ur.user_id == ctx.user_id)).scalars())
        return held & set(ctx.roles) if ctx.roles is not None else held

    def may_claim(self, conn: Connection, pool: dict, ctx: Context) -> bool:
        roles = pool.get("claim_roles")
        return ctx.user_id is not None and (not roles or _admin(ctx) or bool(self.roles_of(conn, ctx) & set(roles)))

    def may_manage(self, conn: Connection, pool: dict, ctx: Context) -> bool:
        roles = pool.get("assign_roles") or []
        return _admin(ctx) or bool(roles and self.roles_of(conn, ctx) & set(roles))

    # counters ---------------------------------------------------------------------------------------
    def standing(self, conn: Connection, pool: dict, user_id: int) -> Standing:
        e = pool_events.c
        claimed = conn.execute(
            sa.select(sa.func.count())
            .select_from(pool_events)
            .where(e.pool_id == pool["id"], e.actor_id == user_id, e.action == "claim", e.at >= self._day_start())
        ).scalar_one()
        table = self._table(pool)
        holding = conn.execute(
            sa.select(sa.func.count())
            .select_from(table)
            .where(table.c[pool["owner_field"]] == user_id, self._held(pool))
        ).scalar_one()
        return Standing(int(claimed), pool.get("claim_cap_per_day"), int(holding), pool.get("holding_cap"))

    def _held(self, pool: dict) -> sa.ColumnElement[bool]:
        if not pool.get("status_field"):
            return self._table(pool).c[pool["owner_field"]].is_not(None)
        status = self._table(pool).c[pool["status_field"]]
        if pool.get("active_values"):  # a converted or closed lead is no longer held: not counted, not recycled
            return status.in_(pool["active_values"])
        return sa.or_(status.not_in(pool["pool_values"]), status.is_(None))

    def _day_start(self) -> datetime:
        """Midnight of the hospital's today, as naive UTC (claim caps count per local day)."""
        aware = self.app.clock.now().replace(tzinfo=UTC).astimezone(local_zone())
        start = aware.replace(hour=0, minute=0, second=0, microsecond=0)
        return start.astimezone(UTC).replace(tzinfo=None)

    # operations -------------------------------------------------------------------------------------
    def claim(self, pool_id: str, record_id: int, ctx: Context) -> dict[str, Any]:
        pool = self.get(pool_id)
        with self.app.db.write() as conn, joined_transaction(conn):
            if not self.may_claim(conn, pool, ctx):
                raise Forbidden(text("no_claim_role", ctx.lang))
            record = self._lock(conn, pool, record_id, ctx)
            if not self.in_pool(pool, record):
                raise PoolRefused(text("not_in_pool", ctx.lang), "not_in_pool")
            self._lock_user(conn, ctx.user_id)
            self._check_reclaim(conn, pool, record_id, ctx)
            standing = self.standing(conn, pool, ctx.user_id)
            if standing.claim_cap is not None and standing.claimed_today >= standing.claim_cap:
                n, cap = standing.claimed_today, standing.claim_cap
                raise PoolRefused(text("claim_cap", ctx.lang, n=n, cap=cap), "claim_cap")
            self._check_holding(standing, ctx)
            return self._take(conn, pool, record, ctx.user_id, ctx, "claim")

    def assign(self, pool_id: str, record_id: int, ctx: Context, user_id: int | None = None) -> dict[str, Any]:
        """A manager gives the record to ``user_id`` (None: the pool's assignment spec picks)."""
        pool = self.get(pool_id)
        with self.app.db.write() as conn, joined_transaction(conn):
            if not self.may_manage(conn, pool, ctx):
                raise Forbidden(text("no_assign_role", ctx.lang))
            record = self._lock(conn, pool, record_id, ctx)
            if user_id is None:
                user_id = assign_user(self.app, conn, pool.get("assignment") or {}, record, entity=pool["entity"])
                if user_id is None:
                    raise PoolRefused(text("nobody", ctx.lang), "nobody")
            u = pt.users.c
            if conn.execute(sa.select(u.id).where(u.id == user_id, u.active.is_(True))).first() is None:
                raise PoolRefused(text("no_user", ctx.lang), "no_user")
            owner = record.get(pool["owner_field"])
            if owner is not None and owner != user_id:
                self._check_protected(conn, pool, record_id, owner, ctx)
            self._lock_user(conn, user_id)
            if owner != user_id:
                self._check_holding(self.standing(conn, pool, user_id), ctx)
            return self._take(conn, pool, record, user_id, ctx, "assign")

    def release(self, pool_id: str, record_id: int, ctx: Context) -> dict[str, Any]:
        pool = self.get(pool_id)
        with self.app.db.write() as conn, joined_transaction(conn):
            record = self._lock(conn, pool, record_id, ctx)
            owner = record.get(pool["owner_field"])
            if owner is None or self.in_pool(pool, record):
                raise PoolRefused(text("not_held", ctx.lang), "not_held")
            if owner != ctx.user_id and not self.may_manage(conn, pool, ctx):
                raise Forbidden(text("not_holder", ctx.lang))
            return self._give_back(conn, pool, record, ctx, "release")

    def recycle(self, pool_id: str, record_id: int, ctx: Context) -> dict[str, Any]:
        """A manager takes a record back into the pool (not during its claim protection)."""
        pool = self.get(pool_id)
        with self.app.db.write() as conn, joined_transaction(conn):
            if not self.may_manage(conn, pool, ctx):
                raise Forbidden(text("no_assign_role", ctx.lang))
            record = self._lock(conn, pool, record_id, ctx)
            owner = record.get(pool["owner_field"])
            if owner is None or self.in_pool(pool, record):
                raise PoolRefused(text("not_held", ctx.lang), "not_held")
            self._check_protected(conn, pool, record_id, owner, ctx)
            return self._give_back(conn, pool, record, ctx, "recycle")

    # the daily job ----------------------------------------------------------------------------------
    def auto_recycle(self) -> dict[str, int]:
        """Warn holders of records about to be recycled (once per cycle) and recycle the overdue ones."""
        counts = {"warned": 0, "recycled": 0}
        for pool in list(self.definitions().values()):
            if not pool.get("recycle_after_days"):
                continue
            for rid, owner, touched in self._idle_candidates(pool):
                due = touched + timedelta(days=pool["recycle_after_days"])
                try:
                    if self.app.clock.now() >= due:
                        with self.app.db.write() as conn, joined_transaction(conn):
                            record = self._lock(conn, pool, rid, SYSTEM_POOL)
                            if record.get(pool["owner_field"]) == owner and not self.in_pool(pool, record):
                                self._give_back(conn, pool, record, SYSTEM_POOL, "recycle", auto=True, touched=touched)
                                counts["recycled"] += 1
                    elif pool.get("warn_before_days") and self.app.clock.now() >= due - timedelta(
                        days=pool["warn_before_days"]
                    ):
                        with self.app.db.write() as conn, joined_transaction(conn):
                            counts["warned"] += self._warn(conn, pool, rid, owner, touched, due)
                except Exception:  # noqa: BLE001 - one bad record must not stop the others; retried tomorrow
                    log.exception("pool %s: auto-recycle of record %s failed", pool["id"], rid)
        return counts

    def _idle_candidates(self, pool: dict) -> list[tuple[int, int, datetime]]:
        """(record id, holder, last touch) of the held records, all dates folded in SQL (one query)."""
        table = self._table(pool)
        owner = table.c[pool["owner_field"]]
        e = pool_events.c
        taken = (
            sa.select(e.record_id.label("rid"), sa.func.max(e.at).label("at"))
            .where(e.pool_id == pool["id"], e.action.in_(TAKING))
            .group_by(e.record_id)
            .subquery()
        )
        cols: list[Any] = [table.c.id, owner, table.c.created_at, taken.c.at]
        q_from: Any = table.outerjoin(taken, taken.c.rid == table.c.id)
        if pool.get("last_activity_field"):
            cols.append(table.c[pool["last_activity_field"]])
        if pool.get("activity"):
            act = pool["activity"]
            other = self.app.registry.tables[act["entity"]].main
            acts = (
                sa.select(other.c[act["via"]].label("rid"), sa.func.max(other.c[act["date_field"]]).label("at"))
                .group_by(other.c[act["via"]])
                .subquery()
            )
            q_from = q_from.outerjoin(acts, acts.c.rid == table.c.id)
            cols.append(acts.c.at)
        with self.app.db.read() as conn:
            rows = conn.execute(sa.select(*cols).select_from(q_from).where(owner.is_not(None), self._held(pool)))
            out = []
            for row in rows:
                dates = [_as_datetime(v) for v in row[2:]]
                out.append((int(row[0]), int(row[1]), max(d for d in dates if d is not None)))
        return out

    def _warn(self, conn: Connection, pool: dict, rid: int, owner: int, touched: datetime, due: datetime) -> int:
        e = pool_events.c
        already = conn.execute(
            sa.select(e.id).where(
                e.pool_id == pool["id"], e.record_id == rid, e.action == "warn", e.user_id == owner, e.at >= touched
            )
        ).first()
        if already is not None:
            return 0
        now = self.app.clock.now()
        lang = conn.execute(sa.select(pt.users.c.language).where(pt.users.c.id == owner)).scalar() or "zh"
        title_field = self.app.registry.entity(pool["entity"]).title_field
        title = conn.execute(sa.select(self._table(pool).c[title_field]).where(self._table(pool).c.id == rid)).scalar()
        days_left = max((due - now).days, 0) + (1 if (due - now).seconds else 0)
        key = f"pool:{pool['id']}:{rid}:warn:{touched.isoformat()}"
        notifier = getattr(self.app, "notifier", None)
        if notifier is not None:
            notifier.notify(
                conn,
                user_ids=[owner],
                key=key,
                title=text("warn_title", lang, title=title or f"#{rid}", days=days_left),
                body=text(
                    "warn_body",
                    lang,
                    idle=(now - touched).days,
                    due=due.strftime("%Y-%m-%d"),
                    pool=label_text(pool["label"], lang),
                ),
                record=(pool["entity"], rid),
                link=f"/r/{pool['entity']}/{rid}",
            )
        self._event(conn, pool, rid, "warn", None, owner, owner, {"key": key, "due": due.isoformat()})
        return 1

    # internals --------------------------------------------------------------------------------------
    def _lock(self, conn: Connection, pool: dict, record_id: int, ctx: Context) -> dict[str, Any]:
        """The record as the caller may see it (404 otherwise), its row locked for this transaction."""
        table = self._table(pool)
        q = sa.select(table).where(table.c.id == record_id)
        if conn.dialect.name == "postgresql":
            q = q.with_for_update()
        if conn.execute(q).first() is None:
            raise NotFound(f"{pool['entity']} #{record_id} does not exist")
        return self.app.records.get(pool["entity"], record_id, ctx)  # NotFound outside the caller's scope

    @staticmethod
    def _lock_user(conn: Connection, user_id: int | None) -> None:
        """Serialise one user's claims (caps are counted, then written: two at once must not both pass)."""
        if conn.dialect.name == "postgresql" and user_id is not None:
            conn.execute(sa.select(pt.users.c.id).where(pt.users.c.id == user_id).with_for_update())

    def _check_holding(self, standing: Standing, ctx: Context) -> None:
        if standing.holding_cap is not None and standing.holding >= standing.holding_cap:
            n, cap = standing.holding, standing.holding_cap
            raise PoolRefused(text("holding_cap", ctx.lang, n=n, cap=cap), "holding_cap")

    def _check_reclaim(self, conn: Connection, pool: dict, rid: int, ctx: Context) -> None:
        days = pool.get("protection_days") or 0
        if not days:
            return
        e = pool_events.c
        last = conn.execute(
            sa.select(sa.func.max(e.at)).where(
                e.pool_id == pool["id"],
                e.record_id == rid,
                e.action == "recycle",
                e.previous_owner_id == ctx.user_id,
            )
        ).scalar()
        if last is not None and self.app.clock.now() < last + timedelta(days=days):
            until = _local_text(last + timedelta(days=days))
            raise PoolRefused(text("reclaim_protected", ctx.lang, days=days, until=until), "protected")

    def _check_protected(self, conn: Connection, pool: dict, rid: int, owner: int, ctx: Context) -> None:
        days = pool.get("protection_days") or 0
        if not days:
            return
        e = pool_events.c
        last = conn.execute(
            sa.select(sa.func.max(e.at)).where(
                e.pool_id == pool["id"], e.record_id == rid, e.action == "claim", e.user_id == owner
            )
        ).scalar()
        if last is not None and self.app.clock.now() < last + timedelta(days=days):
            until = _local_text(last + timedelta(days=days))
            raise PoolRefused(text("claim_protected", ctx.lang, days=days, until=until), "protected")

    def _take(self, conn: Connection, pool: dict, record: dict, user_id: int, ctx: Context, action: str) -> dict:
        values: dict[str, Any] = {pool["owner_field"]: user_id}
        if pool.get("held_value"):
            values[pool["status_field"]] = pool["held_value"]
        updated = self.app.records.update(pool["entity"], record["id"], values, _writer(ctx), expected_version=None)
        self._event(conn, pool, record["id"], action, ctx.user_id, user_id, record.get(pool["owner_field"]), None)
        return updated

    def _give_back(
        self, conn: Connection, pool: dict, record: dict, ctx: Context, action: str, **detail: Any
    ) -> dict[str, Any]:
        values = {pool["owner_field"]: None}
        if pool.get("status_field"):
            values[pool["status_field"]] = pool["pool_values"][0]
        updated = self.app.records.update(pool["entity"], record["id"], values, _writer(ctx), expected_version=None)
        info = {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in detail.items()} or None
        self._event(conn, pool, record["id"], action, ctx.user_id, None, record.get(pool["owner_field"]), info)
        return updated

    def _event(
        self,
        conn: Connection,
        pool: dict,
        rid: int,
        action: str,
        actor: int | None,
        user: int | None,
        previous: int | None,
        detail: dict | None,
    ) -> None:
        conn.execute(
            sa.insert(pool_events).values(
                pool_id=pool["id"],
                entity=pool["entity"],
                record_id=rid,
                action=action,
                actor_id=actor,
                user_id=user,
                previous_owner_id=previous,
                detail=detail,
                at=self.app.clock.now(),
            )
        )

    def events(self, conn: Connection, pool_id: str, record_id: int) -> list[dict[str, Any]]:
        e = pool_events.c
        rows = conn.execute(
            sa.select(pool_events).where(e.pool_id == pool_id, e.record_id == record_id).order_by(e.at, e.id)
        )
        return [dict(r._mapping) for r in rows]


SYSTEM_POOL = Context(channel="system", lang="en", is_admin=True)


def _admin(ctx: Context) -> bool:
    return ctx.is_admin and ctx.roles is None


def _writer(ctx: Context) -> Context:
    """The pool's write: on behalf of the acting person (audit names them), with the pool's authority
    (a liaison claiming a lead need not hold the right to change its owner field)."""
    return Context(user_id=ctx.user_id, channel="system", lang=ctx.lang, is_admin=True, request_id=ctx.request_id)


def _as_datetime(value: Any) -> datetime | None:
    return as_datetime(value)


def _local_text(at: datetime) -> str:
    return at.replace(tzinfo=UTC).astimezone(local_zone()).strftime("%Y-%m-%d %H:%M")
