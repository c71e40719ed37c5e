"""The notifier: one call writes the in-app notifications and the delivery log, and defers the sends.

``notify(conn, ...)`` runs in the caller's transaction (a rule, a workflow step, a follow-up plan), so
the notification exists exactly when the business change does. Every row is keyed: the in-app
notification by ``source`` (notify key + user), each delivery by (key, user, channel); a repeated call
with the same key adds nothing. Outside sends run as jobs (``notify.deliver``), each one claiming its
row, sending, then marking the row sent in its own committed step, so a retried job or a restarted
worker finds "sent" and does nothing.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from runtime.errors import BadRequest, NotFound
from runtime.notify import prefs
from runtime.notify.channels import CHANNELS, DeliveryError, NotConfigured, Outgoing
from runtime.notify.channels.email import EmailChannel
from runtime.notify.channels.sms import HttpSmsGateway, SmsChannel, SmsGateway
from runtime.notify.channels.webhook import WebhookChannel
from runtime.notify.contacts import CHANNELS as CONTACT_CHANNELS
from runtime.notify.contacts import Contact
from runtime.notify.messages import Draft, RecordLoader, compose, recipient_of, user_row
from runtime.notify.settings import SMS_TOKEN, SMS_URL, WEBHOOK_FORMAT, WEBHOOK_SECRET, WEBHOOK_URL
from runtime.notify.tables import deliveries
from runtime.notify.templates.render import RenderError
from runtime.records.service import joined_transaction
from runtime.storage import platform_tables as pt

log = logging.getLogger("tessera.notify")

TASK = "notify.deliver"
RETRIES = 5
RETRY_SECONDS = 60
MAX_ATTEMPTS = RETRIES + 1
STALE_CLAIM = timedelta(minutes=10)
"""A row left "sending" this long ago belongs to a worker that died mid-send: it may be claimed again."""
GROUP = 0
"""user_id of a group delivery (the webhook robot): one per notify key, whoever the recipients are."""


def source_of(key: str, user_id: int) -> str:
    """The in-app notification's unique source; long keys are hashed to fit the column."""
    source = f"n:{key}:{user_id}"
    return source if len(source) <= 120 else f"n:{hashlib.sha256(source.encode()).hexdigest()}:{user_id}"


def _insert_ignore(conn: Connection, table: sa.Table, values: dict[str, Any], unique: list[str]) -> int | None:
    """Insert unless a row with the same unique columns exists; the new id, or None if it existed."""
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    stmt = dialect.insert(table).values(**values).on_conflict_do_nothing(index_elements=unique)
    result = conn.execute(stmt.returning(table.c.id))
    row = result.first()
    return None if row is None else int(row[0])


class Notifier:
    def __init__(self, app: Any):
        self.app = app
        self.sms_gateway: SmsGateway | None = None
        """Set to use another gateway than the HTTP one configured by parameters (e.g. a provider SDK)."""
        self._registered = False
        self._register()

    # wiring ---------------------------------------------------------------------------------------
    def _register(self) -> None:
        jobs = getattr(self.app, "jobs", None)
        if jobs is None or self._registered:
            return
        jobs.task(TASK, retries=RETRIES, retry_seconds=RETRY_SECONDS)(self._deliver_job)
        self._registered = True

    def _deliver_job(self, payload: dict[str, Any]) -> None:
        self.deliver(int(payload["delivery_id"]), rerun=True)

    # templates ------------------------------------------------------------------------------------
    def templates(self) -> dict[str, dict[str, Any]]:
        return self.app.registry.extras("message_template")

    def template(self, template_id: str) -> dict[str, Any]:
        found = self.templates().get(template_id)
        if found is None:
            raise NotFound(f"unknown message template '{template_id}'")
        return found

    # notify ---------------------------------------------------------------------------------------
    def notify(
        self,
        conn: Connection,
        *,
        user_ids: list[int],
        key: str,
        title: str | None = None,
        body: str | None = None,
        template: str | None = None,
        context: dict | None = None,
        record: tuple[str, int] | None = None,
        link: str | None = None,
        channels: list[str] | None = None,
        kind: str | None = None,
        contacts: list[Contact] | None = None,
    ) -> None:
        """Write the notifications and delivery rows in ``conn``'s transaction; defer the outside sends.

        ``kind`` (default: the template id, else "general") is what users choose channels for.
        ``contacts`` are people who are not users (patients): they get the SMS and e-mail channels of
        ``channels`` (default SMS), one delivery per key, person and channel (runtime/notify/contacts.py).
        A template that cannot be rendered for a recipient is logged as a failed delivery, never
        raised: the caller's business change must not roll back because a message has a gap.
        """
        if not key or len(key) > 150:
            raise BadRequest("a notification needs a key of 1 to 150 characters")
        if template is None and not title:
            raise BadRequest("a notification needs a title or a template")
        for channel in channels or ():
            if channel not in CHANNELS:
                raise BadRequest(f"unknown notification channel '{channel}' (known: {', '.join(CHANNELS)})")
        tpl = self.template(template) if template is not None else None
        kind = (kind or template or "general")[:100]
        if link is None and record is not None:
            link = f"/r/{record[0]}/{int(record[1])}"
        draft = Draft(tpl, title, body, link, context or {})
        now = self.app.clock.now()
        with joined_transaction(conn):
            loader = RecordLoader(self.app, conn)
            site_name = self.app.params.get("site.name")
            group_wanted = channels is not None and "webhook" in channels  # a group channel: no person needed
            for user_id in dict.fromkeys(int(u) for u in user_ids):
                row = user_row(conn, user_id)
                if row is None or not row.get("active", True):
                    continue
                recipient = recipient_of(row)
                lang = "en" if str(recipient["language"]).startswith("en") else "zh"

                def variables(recipient: dict = recipient, lang: str = lang) -> dict[str, Any]:
                    found = {
                        **draft.context,
                        "recipient": recipient,
                        "link": link or "",
                        "site_name": site_name,
                        "now": now,
                        "lang": lang,
                    }
                    if record is not None:
                        found["record"] = loader.record(record[0], int(record[1]))
                    return found

                choice = prefs.channels_for(prefs.stored(conn, user_id), row.get("notify_channels"), kind, channels)
                for channel, on in choice.items():
                    if channel == "webhook":
                        group_wanted = group_wanted or on
                        continue
                    target = {"email": recipient["email"], "sms": recipient["phone"]}.get(channel)
                    self._queue(conn, draft, key, kind, user_id, channel, on, lang, variables, target, now)
            for contact in dict.fromkeys(contacts or ()):
                self._queue_contact(conn, draft, key, kind, contact, channels, loader, record, link, site_name, now)
            if group_wanted:
                self._queue(
                    conn,
                    draft,
                    key,
                    kind,
                    GROUP,
                    "webhook",
                    True,
                    "zh",
                    lambda: self._group_vars(draft, loader, record, link, site_name, now),
                    None,
                    now,
                )

    def _queue_contact(
        self,
        conn: Connection,
        draft: Draft,
        key: str,
        kind: str,
        contact: Contact,
        channels: list[str] | None,
        loader: RecordLoader,
        record: Any,
        link: Any,
        site: str,
        now: Any,
    ) -> None:
        def variables() -> dict[str, Any]:
            found = {
                **draft.context,
                "recipient": contact.as_recipient(),
                "link": link or "",
                "site_name": site,
                "now": now,
                "lang": contact.language,
            }
            if contact.opt_out_ref:  # the person's one-click opt-out (runtime/notify/unsubscribe.py)
                from runtime.notify.unsubscribe import url_for

                found["unsubscribe_url"] = url_for(self.app, contact.opt_out_ref)
            if record is not None:
                found["record"] = loader.record(record[0], int(record[1]))
            return found

        person_key = f"{key}|{contact.ref}"
        if len(person_key) > 200:
            person_key = f"{key[:100]}|{hashlib.sha256(person_key.encode()).hexdigest()}"
        for channel in [c for c in (channels or ["sms"]) if c in CONTACT_CHANNELS]:
            target = contact.phone if channel == "sms" else contact.email
            reason = "the person asked not to be contacted" if contact.opt_out else None
            self._queue(
                conn, draft, person_key, kind, GROUP, channel, not contact.opt_out, contact.language,
                variables, target, now, off_reason=reason,
            )  # fmt: skip

    def _group_vars(self, draft: Draft, loader: RecordLoader, record: Any, link: Any, site: str, now: Any) -> dict:
        found = {
            **draft.context,
            "recipient": {"display_name": "", "username": "", "id": 0, "email": "", "phone": "", "language": "zh"},
            "link": link or "",
            "site_name": site,
            "now": now,
            "lang": "zh",
        }
        if record is not None:
            found["record"] = loader.record(record[0], int(record[1]))
        return found

    def _queue(
        self,
        conn: Connection,
        draft: Draft,
        key: str,
        kind: str,
        user_id: int,
        channel: str,
        on: bool,
        lang: str,
        variables: Any,
        target: str | None,
        now: Any,
        *,
        off_reason: str | None = None,
    ) -> None:
        exists = conn.execute(
            sa.select(deliveries.c.id).where(
                deliveries.c.key == key, deliveries.c.user_id == user_id, deliveries.c.channel == channel
            )
        ).first()
        if exists is not None:
            return  # same key, user and channel: already notified (idempotent)
        status, error, message = "queued", None, {}
        if not on:
            status, error = "skipped", off_reason or "turned off in the user's preferences"
        else:
            try:
                message = compose(draft, channel, lang, variables)
            except RenderError as exc:
                status, error = "failed", str(exc)
                log.warning("notification %s for user %s (%s) could not be rendered: %s", key, user_id, channel, exc)
        if status == "queued" and channel in ("email", "sms") and not target:
            status, error = "skipped", "no e-mail address" if channel == "email" else "no mobile phone number"
        notification_id = None
        if status == "queued" and channel == "in_app":
            notification_id = self._write_in_app(conn, key, user_id, message, now)
            status = "sent"
        if channel == "email" and message.get("link") and self.app.settings.mail_base_url:
            base = self.app.settings.mail_base_url.rstrip("/")
            message["text"] = message["text"].replace(f"\n\n{message['link']}", f"\n\n{base}{message['link']}")
        delivery_id = _insert_ignore(
            conn,
            deliveries,
            {
                "key": key,
                "user_id": user_id,
                "channel": channel,
                "kind": kind,
                "status": status,
                "attempts": 0,
                "last_error": error,
                "target": (target or "")[:500] or None,
                "message": message,
                "notification_id": notification_id,
                "created_at": now,
                "updated_at": now,
                "sent_at": now if status == "sent" else None,
            },
            ["key", "user_id", "channel"],
        )
        if delivery_id is not None and status == "queued":
            self._defer(conn, delivery_id, f"notify.deliver:{delivery_id}")

    def _write_in_app(self, conn: Connection, key: str, user_id: int, message: Mapping, now: Any) -> int | None:
        values = {
            "user_id": user_id,
            "title": (message.get("subject") or "")[:300] or "-",
            "body": message.get("text") or None,
            "link": (message.get("link") or None) and str(message["link"])[:500],
            "source": source_of(key, user_id),
            "created_at": now,
        }
        new_id = _insert_ignore(conn, pt.notifications, values, ["source"])
        if new_id is None:
            found = conn.execute(
                sa.select(pt.notifications.c.id).where(pt.notifications.c.source == values["source"])
            ).first()
            return int(found[0]) if found else None
        return new_id

    def _defer(self, conn: Connection | None, delivery_id: int, job_key: str) -> None:
        self._register()
        jobs = getattr(self.app, "jobs", None)
        if jobs is None:
            return  # no job runner in this build: deliver_queued() sends them
        jobs.defer(TASK, {"delivery_id": delivery_id}, key=job_key, conn=conn)

    # delivery -------------------------------------------------------------------------------------
    def channel(self, name: str) -> Any:
        params = self.app.params
        if name == "email":
            return EmailChannel(self.app.settings)
        if name == "sms":
            gateway = self.sms_gateway
            if gateway is None and params.get(SMS_URL.key):
                gateway = HttpSmsGateway(params.get(SMS_URL.key), params.get(SMS_TOKEN.key))
            return SmsChannel(gateway)
        if name == "webhook":
            return WebhookChannel(
                params.get(WEBHOOK_URL.key), params.get(WEBHOOK_FORMAT.key), params.get(WEBHOOK_SECRET.key)
            )
        raise BadRequest(f"the channel '{name}' is not sent by a job")

    def deliver(self, delivery_id: int, *, rerun: bool = False) -> str:
        """Send one queued delivery; returns its final status. Raises DeliveryError to have the job retried.

        ``rerun``: the call is this delivery's own job. The job engine runs a job again only after the
        worker running it died, so a row still "sending" is that dead run's and is claimed at once;
        waiting for STALE_CLAIM there would end the job with the message never sent. Other callers
        (an administrator, the no-runner fallback) leave a fresh "sending" row to whoever holds it.
        """
        db, now = self.app.db, self.app.clock.now()
        t = deliveries
        with db.write() as conn:
            row = conn.execute(sa.select(t).where(t.c.id == delivery_id)).first()
            if row is None:
                return "missing"
            abandoned = row.status == "sending" and (rerun or row.updated_at < now - STALE_CLAIM)
            claimable = row.status == "queued" or abandoned
            if not claimable:
                return row.status  # sent, skipped, failed, or another worker is sending it right now
            conn.execute(
                sa.update(t)
                .where(t.c.id == delivery_id, t.c.status == row.status, t.c.attempts == row.attempts)
                .values(status="sending", attempts=row.attempts + 1, updated_at=now)
            )
        attempts = row.attempts + 1
        try:
            provider_id = self.channel(row.channel).send(Outgoing.from_row(row))
        except NotConfigured as exc:
            self._finish(delivery_id, "skipped", str(exc))
            return "skipped"
        except Exception as exc:  # noqa: BLE001 - every failure is logged on the row and retried
            final = attempts >= MAX_ATTEMPTS
            self._finish(delivery_id, "failed" if final else "queued", f"{type(exc).__name__}: {exc}"[:2000])
            log.warning("delivery %s (%s) attempt %s failed: %s", delivery_id, row.channel, attempts, exc)
            if final:
                return "failed"
            raise DeliveryError(str(exc)) from exc
        self._finish(delivery_id, "sent", None, provider_id=provider_id)
        return "sent"

    def _finish(self, delivery_id: int, status: str, error: str | None, *, provider_id: str | None = None) -> None:
        now = self.app.clock.now()
        values: dict[str, Any] = {"status": status, "last_error": error, "updated_at": now}
        if status == "sent":
            values.update(sent_at=now, provider_id=(provider_id or None) and provider_id[:200])
        with self.app.db.write() as conn:
            conn.execute(sa.update(deliveries).where(deliveries.c.id == delivery_id).values(**values))

    def retry(self, delivery_id: int) -> bool:
        """An administrator's retry of a failed (or skipped) delivery: queued again, sent by a new job."""
        with self.app.db.write() as conn:
            row = conn.execute(sa.select(deliveries).where(deliveries.c.id == delivery_id)).first()
            if row is None:
                raise NotFound(f"delivery {delivery_id} does not exist")
            if row.status not in ("failed", "skipped") or row.channel == "in_app":
                return False
            conn.execute(
                sa.update(deliveries)
                .where(deliveries.c.id == delivery_id)
                .values(status="queued", attempts=0, last_error=None, updated_at=self.app.clock.now())
            )
            self._defer(conn, delivery_id, f"notify.deliver:{delivery_id}:retry:{row.attempts}:{row.updated_at}")
        return True

    def deliver_queued(self, *, limit: int = 100) -> int:
        """Send what is queued, in this thread: the fallback when no job runner is installed."""
        with self.app.db.read() as conn:
            ids = (
                conn.execute(
                    sa.select(deliveries.c.id)
                    .where(deliveries.c.status == "queued")
                    .order_by(deliveries.c.id)
                    .limit(limit)
                )
                .scalars()
                .all()
            )
        sent = 0
        for delivery_id in ids:
            try:
                sent += self.deliver(delivery_id) == "sent"
            except DeliveryError:
                continue
        return sent
