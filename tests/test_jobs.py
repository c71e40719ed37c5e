"""The one job interface (issue 5, PL-24): outbox in the caller's transaction, idempotency keys, due times in the
app clock, retries with backoff, periodic slots, on SQLite and PostgreSQL."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

import pytest
import sqlalchemy as sa

from runtime.clock import FixedClock
from runtime.jobs.tables import jobs
from runtime.services import Tessera


def statuses(app: Tessera, name: str) -> list[str]:
    with app.db.read() as conn:
        return list(conn.execute(sa.select(jobs.c.status).where(jobs.c.name == name).order_by(jobs.c.id)).scalars())


@pytest.fixture
def app(make_tessera: Callable[..., Tessera]) -> Tessera:
    return make_tessera()


def test_pl24_a_job_deferred_in_a_transaction_that_rolls_back_does_not_exist(app: Tessera) -> None:
    ran: list[dict] = []
    app.jobs.task("remind")(ran.append)
    with pytest.raises(RuntimeError), app.db.write() as conn:
        assert app.jobs.defer("remind", {"lead": 7}, key="remind:7", conn=conn) is True
        raise RuntimeError("the record write failed")
    assert statuses(app, "remind") == []
    with app.db.write() as conn:
        app.jobs.defer("remind", {"lead": 8}, key="remind:8", conn=conn)
    app.jobs.run_pending()
    assert ran == [{"lead": 8}]


def test_pl24_the_same_key_twice_makes_one_job_that_runs_once(app: Tessera) -> None:
    ran: list[dict] = []
    app.jobs.task("send_sms")(ran.append)
    assert app.jobs.defer("send_sms", {"to": "138"}, key="sms:delivery:1") is True
    assert app.jobs.defer("send_sms", {"to": "138"}, key="sms:delivery:1") is False
    app.jobs.run_pending()
    app.jobs.run_pending()
    assert app.jobs.defer("send_sms", {"to": "138"}, key="sms:delivery:1") is False  # done keys stay taken
    app.jobs.run_pending()
    assert ran == [{"to": "138"}]
    assert statuses(app, "send_sms") == ["done"]


def test_pl24_a_due_job_runs_once_and_a_future_one_waits_for_the_clock(app: Tessera, clock: FixedClock) -> None:
    ran: list[str] = []
    app.jobs.task("report")(lambda p: ran.append(p["which"]))
    app.jobs.defer("report", {"which": "now"})
    app.jobs.defer("report", {"which": "tomorrow"}, run_at=datetime(2026, 11, 24, 8, 0))
    app.jobs.run_pending()
    app.jobs.run_pending()
    assert ran == ["now"]
    clock.set(datetime(2026, 11, 24, 7, 59, 59))
    app.jobs.run_pending()
    assert ran == ["now"]
    clock.set(datetime(2026, 11, 24, 8, 0))
    app.jobs.run_pending()
    app.jobs.run_pending()
    assert ran == ["now", "tomorrow"]


def test_pl24_a_failing_job_is_retried_with_backoff_then_marked_failed_and_logged(
    app: Tessera, clock: FixedClock, caplog: pytest.LogCaptureFixture
) -> None:
    tries: list[datetime] = []

    @app.jobs.task("webhook", retries=2, retry_seconds=10)
    def webhook(payload: dict) -> None:
        tries.append(clock.now())
        raise ConnectionError("gateway down")

    start = clock.now()
    app.jobs.defer("webhook", {"url": "http://his.example/hook"})
    with caplog.at_level(logging.ERROR, logger="tessera.jobs"):
        app.jobs.run_pending()
    assert len(tries) == 1 and statuses(app, "webhook") == ["queued"]
    assert "webhook" in caplog.text and "http://his.example/hook" in caplog.text and "gateway down" in caplog.text
    clock.advance(seconds=9)
    app.jobs.run_pending()
    assert len(tries) == 1  # backoff: not before retry_seconds
    clock.advance(seconds=1)
    app.jobs.run_pending()
    assert len(tries) == 2
    clock.advance(seconds=19)
    app.jobs.run_pending()
    assert len(tries) == 2  # the second wait doubles: 20 s
    clock.advance(seconds=1)
    app.jobs.run_pending()
    assert [int((t - start).total_seconds()) for t in tries] == [0, 10, 30]
    assert statuses(app, "webhook") == ["failed"]
    clock.advance(days=3)
    app.jobs.run_pending()
    assert len(tries) == 3  # failed stays failed
    with app.db.read() as conn:
        row = conn.execute(sa.select(jobs).where(jobs.c.name == "webhook")).one()
    assert row.attempts == 3 and "ConnectionError: gateway down" in row.last_error
    with app.db.read() as conn:
        logged = conn.execute(sa.text("SELECT method, path, message FROM tessera_errors")).all()
    assert [tuple(r) for r in logged] == [("JOB", f"webhook #{row.id}", "gateway down")]  # once: when it gave up

    assert app.jobs.retry(row.id) is True  # the admin's retry button
    app.jobs.run_pending()
    assert len(tries) == 4


def test_pl24_an_unknown_task_name_fails_with_a_clear_error(app: Tessera) -> None:
    app.jobs.defer("no_such_task", {})
    app.jobs.run_pending()
    with app.db.read() as conn:
        row = conn.execute(sa.select(jobs).where(jobs.c.name == "no_such_task")).one()
    assert row.status == "failed" and "no job task is registered under the name 'no_such_task'" in row.last_error


def test_pl24_a_periodic_job_runs_once_per_slot_even_with_two_schedulers(
    make_tessera: Callable[..., Tessera], clock: FixedClock
) -> None:
    first, second = make_tessera(), make_tessera()  # two app processes sharing one database
    ran: list[str] = []
    for app in (first, second):
        app.jobs.task("digest")(lambda p: ran.append(p["scheduled_at"]))
        app.jobs.every("digest", seconds=3600)
    clock.set(datetime(2026, 11, 23, 9, 30))
    first.jobs.run_pending()
    second.jobs.run_pending()
    first.jobs.run_pending()
    assert ran == ["2026-11-23T09:00:00"]
    clock.set(datetime(2026, 11, 23, 10, 0))
    second.jobs.run_pending()
    first.jobs.run_pending()
    clock.set(datetime(2026, 11, 23, 10, 59, 59))
    first.jobs.run_pending()
    assert ran == ["2026-11-23T09:00:00", "2026-11-23T10:00:00"]


def test_pl24_cron_schedules_follow_the_app_clock(app: Tessera, clock: FixedClock) -> None:
    ran: list[str] = []
    app.jobs.task("nightly")(lambda p: ran.append(p["scheduled_at"]))
    app.jobs.every("nightly", cron="0 2 * * *")
    clock.set(datetime(2026, 11, 23, 1, 59))
    app.jobs.run_pending()
    clock.set(datetime(2026, 11, 23, 2, 0))
    app.jobs.run_pending()
    clock.set(datetime(2026, 11, 23, 14, 0))
    app.jobs.run_pending()
    assert ran == ["2026-11-22T02:00:00", "2026-11-23T02:00:00"]


def test_pl24_bad_schedules_and_names_are_refused_with_the_reason(app: Tessera) -> None:
    with pytest.raises(ValueError, match="exactly one of seconds= or cron="):
        app.jobs.every("x")
    with pytest.raises(ValueError, match="not a cron expression"):
        app.jobs.every("x", cron="every monday")
    with pytest.raises(ValueError, match="seconds must be positive"):
        app.jobs.every("x", seconds=0)
    with pytest.raises(ValueError, match="1-100 characters"):
        app.jobs.task("")
    with pytest.raises(ValueError, match="longer than 255"):
        app.jobs.defer("x", key="k" * 300)


def test_pl24_a_job_may_defer_follow_up_jobs_that_run_in_the_same_pass(app: Tessera) -> None:
    ran: list[int] = []

    @app.jobs.task("chain")
    def chain(payload: dict) -> None:
        ran.append(payload["n"])
        if payload["n"] < 3:
            app.jobs.defer("chain", {"n": payload["n"] + 1}, key=f"chain:{payload['n'] + 1}")

    app.jobs.defer("chain", {"n": 1}, key="chain:1")
    app.jobs.run_pending()
    assert ran == [1, 2, 3]


def test_pl24_queue_depth_counts_due_jobs_for_the_metrics_gauge(app: Tessera, clock: FixedClock) -> None:
    app.jobs.task("count")(lambda p: None)
    app.jobs.defer("count", {})
    app.jobs.defer("count", {})
    app.jobs.defer("count", {}, run_at=datetime(2027, 1, 1))
    assert app.jobs.queue_depth() == 2 and app.job_queue_depth() == 2
    app.jobs.run_pending()
    assert app.jobs.queue_depth() == 0


def test_pl14_workflow_timers_are_a_periodic_job(app: Tessera) -> None:
    assert "workflow_timers" in app.jobs.tasks and app.jobs.periodic["workflow_timers"].seconds == 15
    app.jobs.run_pending()
    assert statuses(app, "workflow_timers") == ["done"]


def test_pl24_a_payload_that_is_not_json_is_refused_at_defer_time(app: Tessera) -> None:
    with pytest.raises(ValueError, match="'remind': the payload must be plain JSON"):
        app.jobs.defer("remind", {"at": datetime(2026, 1, 1)})


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_pl24_a_job_whose_final_write_failed_is_queued_again_on_postgresql(app: Tessera) -> None:
    ran: list[int] = []
    app.jobs.task("once")(lambda p: ran.append(1))
    app.jobs.defer("once", {}, key="once")
    assert app.jobs._pg.hand_over() >= 1
    with app.db.write() as conn:  # procrastinate lost the job (as if it failed outside the task)
        conn.execute(sa.text("DELETE FROM procrastinate_jobs"))
    app.jobs.run_pending()
    assert ran == [1] and statuses(app, "once") == ["done"]


def test_pl24_done_jobs_are_pruned_after_thirty_days(app: Tessera, clock: FixedClock) -> None:
    app.jobs.task("old")(lambda p: None)
    app.jobs.defer("old", {}, key="old:1")
    app.jobs.run_pending()
    clock.advance(days=31)
    assert app.jobs.prune() >= 1
    assert statuses(app, "old") == []
    assert app.jobs.defer("old", {}, key="old:1") is True  # the key is free again


def test_pl24_the_in_process_runner_of_serve_runs_due_jobs_and_stops(app: Tessera) -> None:
    import threading

    done = threading.Event()
    app.jobs.task("ping")(lambda p: done.set())
    app.jobs.start()
    assert app.jobs._background is None  # not enabled: tests and scripts call run_pending themselves
    app.jobs.enabled = True
    app.jobs.start()
    try:
        app.jobs.defer("ping", {})
        assert done.wait(30), "the background runner did not run the due job"
    finally:
        app.jobs.stop()
    assert app.jobs._background is None


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_pl24_the_upgrade_installs_procrastinates_schema_on_postgresql(app: Tessera) -> None:
    tables = set(sa.inspect(app.db.engine).get_table_names())
    assert {"tessera_jobs", "procrastinate_jobs", "procrastinate_workers"} <= tables
