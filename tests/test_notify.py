"""Notifications (PL-16): in-app, e-mail over a real SMTP server, SMS and robots through real local HTTP servers,
preferences, the delivery log, retries and idempotency."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import pytest

from runtime.clock import FixedClock
from runtime.notify.channels.email import message_id
from runtime.services import Tessera
from tests.support.smtp_server import smtp_server
from tests.test_notify_support import deliveries, http_recorder, make_lead, make_user, notifications


@pytest.fixture
def app(make_tessera: Callable[..., Tessera]) -> Tessera:
    return make_tessera("notify_pack")


def test_pl16_notify_twice_with_the_same_key_gives_one_notification_and_one_email(app: Tessera) -> None:
    with smtp_server() as smtp:
        app.settings = dataclasses.replace(
            app.settings, smtp_host=smtp.host, smtp_port=smtp.port, smtp_from="随访中心 <crm@hospital.example>"
        )
        nurse = make_user(app, "nurse", email="nurse@hospital.example")
        lead = make_lead(app)
        for _ in range(2):
            with app.db.write() as conn:
                app.notifier.notify(
                    conn,
                    user_ids=[nurse],
                    key="lead:1:assigned",
                    template="lead_assigned",
                    record=("lead", lead),
                    channels=["in_app", "email"],
                )
            app.jobs.run_pending()
        message = smtp.wait_for(1)[0]
        assert message["Subject"] == "新线索：王芳（协和医院）"
        assert message["To"] == "nurse@hospital.example"
        assert message["Message-ID"] == message_id(f"lead:1:assigned|{nurse}|email", "crm@hospital.example")
        text = message.get_body(("plain",)).get_content()
        assert "Nurse，您好" in text and "<b>急</b>" in text and f"/r/lead/{lead}" in text
        html = message.get_body(("html",)).get_content()
        assert "&lt;b&gt;急&lt;/b&gt;" in html, "merge fields are escaped in the e-mail's HTML"
        assert len(smtp.messages) == 1
    [note] = notifications(app, nurse)
    assert note["title"] == "新线索：王芳" and note["body"] == "协和医院，回访日期 2026年12月1日"
    assert note["link"] == f"/r/lead/{lead}"
    log = {d["channel"]: d for d in deliveries(app)}
    assert set(log) == {"in_app", "email"} and len(deliveries(app)) == 2
    assert log["email"]["status"] == "sent" and log["email"]["attempts"] == 1
    assert log["email"]["provider_id"] == message["Message-ID"]


def test_pl16_a_retry_of_a_sent_delivery_sends_nothing(app: Tessera) -> None:
    with smtp_server() as smtp:
        app.settings = dataclasses.replace(app.settings, smtp_host=smtp.host, smtp_port=smtp.port)
        nurse = make_user(app, "nurse", email="nurse@hospital.example")
        with app.db.write() as conn:
            app.notifier.notify(conn, user_ids=[nurse], key="k1", title="Hello", channels=["email"])
        app.jobs.run_pending()
        smtp.wait_for(1)
        delivery = deliveries(app)[0]
        assert app.notifier.deliver(delivery["id"]) == "sent", "a second run of the job (at least once) is a no-op"
        assert app.notifier.retry(delivery["id"]) is False
        app.jobs.run_pending()
        assert len(smtp.messages) == 1


def test_pl16_sms_reaches_the_http_gateway_with_the_rendered_chinese_text(app: Tessera) -> None:
    with http_recorder() as gateway:
        app.params.set("notify.sms.url", gateway.url)
        app.params.set("notify.sms.token", "tok-123")
        nurse = make_user(app, "nurse", phone="13800138000")
        doctor = make_user(app, "doctor", phone="13900139000", language="en")
        lead = make_lead(app)
        with app.db.write() as conn:
            app.notifier.notify(
                conn,
                user_ids=[nurse, doctor],
                key="lead:sms",
                template="lead_assigned",
                record=("lead", lead),
                channels=["sms"],
            )
        app.jobs.run_pending()
        bodies = {r.body["to"]: r for r in gateway.requests}
        assert (
            bodies["13800138000"].body["text"] == "【随访中心】Nurse：新线索王芳（协和医院），请于2026年12月1日前回访。"
        )
        assert bodies["13900139000"].body["text"] == "New lead 王芳 (协和医院), visit by 1 Dec 2026."
        assert bodies["13800138000"].headers["Authorization"] == "Bearer tok-123"
        assert bodies["13800138000"].headers["Idempotency-Key"] == f"lead:sms|{nurse}|sms"
    assert {d["status"] for d in deliveries(app)} == {"sent"}
    assert {d["provider_id"] for d in deliveries(app)} == {"gw-1"}


def test_pl16_gateway_500_is_retried_then_sent_once(app: Tessera, clock: FixedClock) -> None:
    with http_recorder() as gateway:
        app.params.set("notify.sms.url", gateway.url)
        gateway.fail_next = 2
        nurse = make_user(app, "nurse", phone="13800138000")
        with app.db.write() as conn:
            app.notifier.notify(
                conn,
                user_ids=[nurse],
                key="retry",
                template="plain_notice",
                context={"message": "明天门诊停诊"},
                channels=["sms"],
            )
        app.jobs.run_pending()
        [row] = deliveries(app)
        assert row["status"] == "queued" and row["attempts"] == 1 and "500" in row["last_error"]
        for _ in range(4):
            clock.advance(minutes=30)
            app.jobs.run_pending()
        [row] = deliveries(app)
        assert row["status"] == "sent" and row["attempts"] == 3 and row["last_error"] is None
        assert len(gateway.requests) == 3
        assert [r.body["text"] for r in gateway.requests][-1] == "Tessera：明天门诊停诊"
        clock.advance(hours=5)
        app.jobs.run_pending()
        assert len(gateway.requests) == 3, "sent once: no more requests after success"


def test_pl16_webhook_body_in_dingtalk_format(app: Tessera) -> None:
    with http_recorder() as robot:
        robot.answer = {"errcode": 0, "errmsg": "ok"}
        app.params.set("notify.webhook.url", robot.url + "?access_token=abc")
        app.params.set("notify.webhook.format", "dingtalk")
        owner = make_user(app, "owner")
        nurse = make_user(app, "nurse")
        lead = make_lead(app, owner=owner)
        with app.db.write() as conn:
            app.notifier.notify(
                conn,
                user_ids=[nurse, owner],
                key="robot",
                template="lead_assigned",
                record=("lead", lead),
                channels=["webhook"],
            )
        app.jobs.run_pending()
        [request] = robot.requests  # one group message, whatever the number of recipients
        assert request.path == "/send?access_token=abc"
        assert request.body["msgtype"] == "markdown"
        assert "线索 王芳 已分配给 Owner" in request.body["markdown"]["text"]
        assert request.body["markdown"]["title"]


def test_pl16_dingtalk_refusal_in_a_200_answer_is_an_error_and_retried(app: Tessera) -> None:
    with http_recorder() as robot:
        robot.answer = {"errcode": 310000, "errmsg": "keywords not in content"}
        app.params.set("notify.webhook.url", robot.url)
        nurse = make_user(app, "nurse")
        with app.db.write() as conn:
            app.notifier.notify(conn, user_ids=[nurse], key="robot2", title="x", channels=["webhook"])
        app.jobs.run_pending()
        [row] = deliveries(app)
        assert row["status"] == "queued" and "310000" in row["last_error"]


def test_pl16_preferences_turn_a_channel_off(app: Tessera) -> None:
    from runtime.notify import prefs

    with smtp_server() as smtp, http_recorder() as gateway:
        app.settings = dataclasses.replace(app.settings, smtp_host=smtp.host, smtp_port=smtp.port)
        app.params.set("notify.sms.url", gateway.url)
        nurse = make_user(app, "nurse", email="nurse@hospital.example", phone="13800138000")
        with app.db.write() as conn:
            prefs.save(conn, nurse, {"plain_notice": {"email": False, "sms": True, "in_app": True}}, app.clock.now())
        with app.db.write() as conn:
            app.notifier.notify(conn, user_ids=[nurse], key="p1", template="plain_notice", context={"message": "hi"})
        app.jobs.run_pending()
        assert len(gateway.requests) == 1 and smtp.messages == []
        status = {d["channel"]: d["status"] for d in deliveries(app)}
        assert status == {"in_app": "sent", "email": "skipped", "sms": "sent"}, "no robot: nobody wants it"
        # another kind still follows the defaults (in-app and e-mail)
        with app.db.write() as conn:
            app.notifier.notify(conn, user_ids=[nurse], key="p2", title="Other kind")
        app.jobs.run_pending()
        assert len(smtp.wait_for(1)) == 1 and len(gateway.requests) == 1


def test_pl16_workflow_notifications_and_notifier_share_the_in_app_store(app: Tessera) -> None:
    from runtime.notify import inbox

    nurse = make_user(app, "nurse")
    with app.db.write() as conn:
        app.notifier.notify(conn, user_ids=[nurse], key="a", title="First")
        app.notifier.notify(conn, user_ids=[nurse], key="b", title="Second", link="/tasks")
    assert inbox.unread_count(app.db, nurse) == 2
    items = inbox.listing(app.db, nurse)
    assert [i["title"] for i in items] == ["Second", "First"]
    inbox.mark_read(app.db, nurse, items[0]["id"], app.clock.now())
    assert inbox.unread_count(app.db, nurse) == 1
    assert inbox.mark_all_read(app.db, nurse, app.clock.now()) == 1
    assert inbox.unread_count(app.db, nurse) == 0


def test_pl16_a_restarted_worker_sends_what_a_dead_one_left_and_never_sends_twice(
    make_tessera: Callable[..., Tessera], clock: FixedClock
) -> None:
    import sqlalchemy as sa

    from runtime.notify.tables import deliveries as table

    app = make_tessera("notify_pack")
    with smtp_server() as smtp:
        mail = {"smtp_host": smtp.host, "smtp_port": smtp.port}
        app.settings = dataclasses.replace(app.settings, **mail)
        nurse = make_user(app, "nurse", email="nurse@hospital.example")
        with app.db.write() as conn:
            for key, title in (("k", "一"), ("k2", "二"), ("k3", "三")):
                app.notifier.notify(conn, user_ids=[nurse], key=key, title=title, channels=["email"])
        first, second, third = (d["id"] for d in deliveries(app))
        with app.db.write() as conn:  # the job of the second one claimed it and its worker died mid-send
            conn.execute(sa.update(table).where(table.c.id == second).values(status="sending", attempts=1))
        # an administrator's direct call leaves a fresh "sending" row alone: someone may be sending it
        with app.db.write() as conn:
            conn.execute(sa.update(table).where(table.c.id == third).values(status="sending", attempts=1))
        assert app.notifier.deliver(third) == "sending"
        with app.db.write() as conn:
            conn.execute(sa.update(table).where(table.c.id == third).values(status="queued", attempts=0))
        restarted = make_tessera()  # another process on the same database
        restarted.settings = dataclasses.replace(restarted.settings, **mail)
        restarted.jobs.run_pending()  # the rerun of the dead job sends the second one: nothing is lost
        messages = smtp.wait_for(3)
        assert sorted(m["Subject"] for m in messages) == sorted(["一", "二", "三"])
        assert {d["id"]: (d["status"], d["attempts"]) for d in deliveries(app)} == {
            first: ("sent", 1),
            second: ("sent", 2),
            third: ("sent", 1),
        }
        second_copy = next(m for m in messages if m["Subject"] == "二")
        assert second_copy["Message-ID"] == message_id(f"k2|{nurse}|email", "tessera@localhost")
        for delivery_id in (first, second, third):  # a job run again (at least once) finds "sent"
            assert app.notifier.deliver(delivery_id, rerun=True) == "sent"
        restarted.jobs.run_pending()
        clock.advance(hours=6)
        restarted.jobs.run_pending()
        assert len(smtp.messages) == 3


def test_pl16_wecom_robot_gets_a_markdown_body_even_without_recipients(app: Tessera) -> None:
    with http_recorder() as robot:
        robot.answer = {"errcode": 0, "errmsg": "ok"}
        app.params.set("notify.webhook.url", robot.url)
        app.params.set("notify.webhook.format", "wecom")
        with app.db.write() as conn:
            app.notifier.notify(conn, user_ids=[], key="wecom", title="今日新增线索 3 条", channels=["webhook"])
            app.notifier.notify(conn, user_ids=[], key="wecom", title="今日新增线索 3 条", channels=["webhook"])
        app.jobs.run_pending()
        [request] = robot.requests
        assert request.body == {
            "msgtype": "markdown",
            "markdown": {"content": "今日新增线索 3 条"},
        }
