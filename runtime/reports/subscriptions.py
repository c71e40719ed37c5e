"""Scheduled delivery (PL-13): a report sent to chosen users or roles, daily, weekly or monthly.

A periodic job (`reports.deliver`, every 15 minutes) finds subscriptions that are due, moves their next
run on and defers one `reports.send` job per subscription and period (idempotency key: a period is sent
once however often the scheduler runs). The send job runs the report *as each recipient*, so everyone
receives only the numbers of their own data scope, and mails the Excel file as an attachment and/or posts
an in-app notification through app.notifier. Each (subscription, period, user, channel) is logged before
it is sent: a retried job skips what already went out (a crash between log and send loses that one
message rather than sending it twice).

Schedule: daily at 08:00 local time, weekly on Monday 08:00, monthly on the 1st 08:00. Unless the
subscription fixes its own range, the report covers the period just finished (yesterday, last week,
last month).
"""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import sqlalchemy as sa

from runtime.clock import local_zone
from runtime.errors import BadRequest
from runtime.records.context import Context
from runtime.reports import periods as P
from runtime.reports.tables import report_deliveries, report_subscriptions
from runtime.storage import platform_tables as pt

log = logging.getLogger("tessera.reports")
FREQUENCIES = ("daily", "weekly", "monthly")
CHANNELS = ("email", "in_app")
SEND_HOUR = 8


def next_run(after_utc: datetime, frequency: str) -> datetime:
    """The next delivery instant strictly after `after_utc` (naive UTC in, naive UTC out)."""
    zone = local_zone()
    local = after_utc.replace(tzinfo=UTC).astimezone(zone)
    day = local.date()
    for _ in range(40):
        candidate = datetime.combine(day, time(SEND_HOUR), tzinfo=zone)
        due_day = (
            frequency == "daily"
            or (frequency == "weekly" and day.weekday() == 0)
            or (frequency == "monthly" and day.day == 1)
        )
        if due_day and candidate > local:
            return candidate.astimezone(UTC).replace(tzinfo=None)
        day += timedelta(days=1)
    raise ValueError(f"unknown frequency {frequency}")


def covered_range(frequency: str, run_at_utc: datetime) -> P.Range:
    """The period just finished when a delivery runs."""
    today = P.local_today(run_at_utc)
    if frequency == "daily":
        return P.Range(today - timedelta(days=1), today - timedelta(days=1))
    if frequency == "weekly":
        start = P.trunc(today, "week") - timedelta(weeks=1)
        return P.Range(start, start + timedelta(days=6))
    start = P.add_months(P.trunc(today, "month"), -1)
    return P.Range(start, P.trunc(today, "month") - timedelta(days=1))


class Subscriptions:
    def __init__(self, app: Any, reports: Any):
        self.app, self.reports = app, reports

    def create(
        self,
        report_id: str,
        *,
        frequency: str,
        user_ids: list[int] | None = None,
        roles: list[str] | None = None,
        channels: list[str] | None = None,
        params: dict[str, str] | None = None,
        fmt: str = "xlsx",
        created_by: int | None = None,
    ) -> int:
        self.reports.engine.report(report_id)  # unknown report: 404
        if frequency not in FREQUENCIES:
            raise BadRequest(f"frequency must be one of {', '.join(FREQUENCIES)}")
        channels = channels or ["email"]
        bad = [c for c in channels if c not in CHANNELS]
        if bad:
            raise BadRequest(f"unknown channel '{bad[0]}'; use {', '.join(CHANNELS)}")
        if fmt not in ("xlsx", "csv"):
            raise BadRequest("format must be xlsx or csv")
        if not (user_ids or roles):
            raise BadRequest("choose at least one recipient (users or roles)")
        now = self.app.clock.now()
        row = {
            "report_id": report_id,
            "params": dict(params or {}),
            "frequency": frequency,
            "channels": channels,
            "user_ids": [int(u) for u in user_ids or []],
            "roles": list(roles or []),
            "format": fmt,
            "active": True,
            "next_run_at": next_run(now, frequency),
            "created_by": created_by,
            "created_at": now,
        }
        with self.app.db.write() as conn:
            return int(conn.execute(report_subscriptions.insert().values(**row)).inserted_primary_key[0])

    def may_manage(self, ctx: Context, report_id: str) -> bool:
        """Who may subscribe people to a report: administrators, and the roles the report names in
        `subscribers` (a manager sending the monthly numbers to chosen people) when they may run it.
        Recipients still get only the numbers of their own data scope: the report runs as each of them."""
        perms = self.app.permissions
        if ctx.is_admin or perms.has_right(ctx, "admin"):
            return True
        report = self.reports.engine.report(report_id)  # unknown report: 404
        allowed = set(report.raw.get("subscribers") or [])
        if not allowed & set(perms.subject(ctx).roles):
            return False
        return any(r.id == report.id for r in self.reports.engine.visible(ctx))

    def require_manage(self, ctx: Context, report_id: str) -> None:
        from runtime.errors import Forbidden

        if not self.may_manage(ctx, report_id):
            raise Forbidden(f"you may not manage the deliveries of the report '{report_id}'")

    def report_of(self, sub_id: int) -> str | None:
        with self.app.db.read() as conn:
            return conn.execute(
                sa.select(report_subscriptions.c.report_id).where(report_subscriptions.c.id == sub_id)
            ).scalar()

    def list(self, report_id: str | None = None) -> list[dict[str, Any]]:
        q = sa.select(report_subscriptions).order_by(report_subscriptions.c.id)
        if report_id:
            q = q.where(report_subscriptions.c.report_id == report_id)
        with self.app.db.read() as conn:
            return [dict(r._mapping) for r in conn.execute(q)]

    def delete(self, sub_id: int) -> None:
        with self.app.db.write() as conn:
            conn.execute(report_subscriptions.delete().where(report_subscriptions.c.id == sub_id))

    # the jobs -----------------------------------------------------------------------------------
    def schedule_due(self, payload: dict | None = None) -> int:
        """Defer a send job for every due subscription and move it to its next run."""
        now = self.app.clock.now()
        s = report_subscriptions
        count = 0
        with self.app.db.write() as conn:
            due = conn.execute(sa.select(s).where(s.c.active.is_(True), s.c.next_run_at <= now)).all()
            for sub in due:
                run_at = sub.next_run_at
                key = f"reports.send:{sub.id}:{run_at.isoformat()}"
                payload = {"subscription_id": sub.id, "run_at": run_at.isoformat()}
                self.app.jobs.defer("reports.send", payload, key=key, conn=conn)
                conn.execute(
                    s.update().where(s.c.id == sub.id).values(next_run_at=next_run(max(run_at, now), sub.frequency))
                )
                count += 1
        return count

    def send(self, payload: dict) -> None:
        s = report_subscriptions
        with self.app.db.read() as conn:
            sub = conn.execute(sa.select(s).where(s.c.id == payload["subscription_id"])).first()
        if sub is None or not sub.active:
            return
        run_at = datetime.fromisoformat(payload["run_at"])
        params = dict(sub.params or {})
        if not params.get("from") and not params.get("period"):
            window = covered_range(sub.frequency, run_at)
            params.update({"from": window.start.isoformat(), "to": window.end.isoformat()})
        period_key = f"{params.get('from', '')}..{params.get('to', '')}"[:40]
        for user in self._recipients(sub):
            ctx = Context(
                user_id=user.id, channel="system", lang=user.language or "zh", department_id=user.department_id
            )
            for channel in sub.channels:
                if not self._log_once(sub.id, period_key, user.id, channel):
                    continue
                try:
                    self._deliver(sub, user, ctx, params, channel, run_at)
                except Exception:
                    self._unlog(sub.id, period_key, user.id, channel)  # let the retry try this one again
                    raise
        with self.app.db.write() as conn:
            conn.execute(s.update().where(s.c.id == sub.id).values(last_sent_at=self.app.clock.now()))

    def _deliver(self, sub: Any, user: Any, ctx: Context, params: dict, channel: str, run_at: datetime) -> None:
        from runtime.errors import Forbidden, NotFound

        try:
            filename, media, data = self.reports.export(sub.report_id, ctx, params, sub.format)
            result = self.reports.run(sub.report_id, ctx, params)
        except (Forbidden, NotFound, BadRequest) as exc:
            log.warning("report %s not sent to user %s: %s", sub.report_id, user.id, exc)
            return
        zh = ctx.lang != "en"
        window = f"{result.window.start.isoformat()} ~ {result.window.end.isoformat()}"
        title = f"{'定期报表' if zh else 'Scheduled report'}: {result.title} ({window})"
        if channel == "email":
            if not user.email:
                log.warning("report %s: user %s has no email address", sub.report_id, user.id)
                return
            from runtime.mail import Attachment, mailer_from_settings

            body = ("附件为报表" if zh else "The report is attached") + f" {result.title}, {window}."
            mailer = getattr(self.reports, "mailer", None) or mailer_from_settings(self.app.settings)
            mailer.send(user.email, title, body, attachments=[Attachment(filename, data, media)])
        elif channel == "in_app" and getattr(self.app, "notifier", None) is not None:
            link = f"/reports/{sub.report_id}?from={result.window.start}&to={result.window.end}"
            with self.app.db.write() as conn:
                self.app.notifier.notify(
                    conn,
                    user_ids=[user.id],
                    key=f"report:{sub.id}:{run_at.isoformat()}",
                    title=title,
                    body=window,
                    link=link,
                    channels=["in_app"],
                )

    def _recipients(self, sub: Any) -> list[Any]:
        ids = set(sub.user_ids or [])
        if sub.roles:
            q = sa.select(pt.user_roles.c.user_id).where(pt.user_roles.c.role_id.in_(list(sub.roles)))
            with self.app.db.read() as conn:
                ids.update(r.user_id for r in conn.execute(q))
        users = [self.app.users.get(i) for i in sorted(ids)]
        return [u for u in users if u is not None and getattr(u, "active", True)]

    def _log_once(self, sub_id: int, period_key: str, user_id: int, channel: str) -> bool:
        row = {"subscription_id": sub_id, "period_key": period_key, "user_id": user_id, "channel": channel}
        try:
            with self.app.db.write() as conn:
                conn.execute(report_deliveries.insert().values(**row, sent_at=self.app.clock.now()))
            return True
        except sa.exc.IntegrityError:
            return False

    def _unlog(self, sub_id: int, period_key: str, user_id: int, channel: str) -> None:
        d = report_deliveries
        with self.app.db.write() as conn:
            conn.execute(
                d.delete().where(
                    d.c.subscription_id == sub_id,
                    d.c.period_key == period_key,
                    d.c.user_id == user_id,
                    d.c.channel == channel,
                )
            )


def install_delivery(app: Any, reports: Any) -> None:
    """Register the delivery tasks on app.jobs (built before the reports service)."""
    subs = Subscriptions(app, reports)
    reports.subscriptions = subs
    jobs = getattr(app, "jobs", None)
    if jobs is None:
        return
    jobs.task("reports.deliver", retries=3, retry_seconds=300)(subs.schedule_due)
    jobs.task("reports.send", retries=5, retry_seconds=300)(subs.send)
    jobs.every("reports.deliver", seconds=900)


__all__ = ["Subscriptions", "install_delivery", "next_run", "covered_range", "date"]
