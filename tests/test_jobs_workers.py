"""Jobs in separate processes (issue 5, PL-24): `tessera worker` processes share the queue, stop cleanly on SIGTERM,
and a worker killed in the middle of a job loses nothing and doubles nothing; `tessera serve` runs jobs in-process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from runtime.jobs.tables import jobs
from runtime.services import Tessera
from tests.support.server import free_port

ROOT = Path(__file__).resolve().parent.parent
PAST = datetime(2020, 1, 1)  # due whatever the real clock of the worker processes says

TASKS = '''
"""Job tasks of the worker tests, registered in each `tessera worker` with --tasks jobtasks:register."""
import os, time
from pathlib import Path

LOG = Path(os.environ["JOB_TEST_DIR"]) / "runs.log"


def _log(line):
    with open(LOG, "a") as f:  # O_APPEND: one short write per line, whole even with several writers
        f.write(line + "\\n")


def register(app):
    @app.jobs.task("record", retries=0)
    def record(payload):
        time.sleep(payload.get("sleep", 0))
        _log(f"{os.getpid()} ran {payload['n']}")

    @app.jobs.task("gated", retries=0)
    def gated(payload):
        _log(f"{os.getpid()} start {payload['n']}")
        gate = Path(os.environ["JOB_TEST_DIR"]) / "gate"
        if payload.get("wait"):
            while not gate.exists():
                time.sleep(0.05)
        _log(f"{os.getpid()} end {payload['n']}")
'''


@pytest.fixture
def app(make_tessera: Callable[..., Tessera]) -> Tessera:
    return make_tessera()


def env_for(app: Tessera, tmp_path: Path) -> dict[str, str]:
    (tmp_path / "jobtasks.py").write_text(TASKS)
    return {
        **os.environ,
        "TESSERA_DATABASE_URL": app.settings.database_url,
        "TESSERA_DATA_DIR": str(app.settings.data_dir),
        "TESSERA_SECRET_KEY": app.settings.secret_key,
        "TESSERA_JOBS_STALLED_SECONDS": "2",
        "JOB_TEST_DIR": str(tmp_path),
        "PYTHONPATH": os.pathsep.join([str(tmp_path), str(ROOT)]),
    }


@contextmanager
def worker(env: dict[str, str], tmp_path: Path, name: str) -> Iterator[subprocess.Popen]:
    log = open(tmp_path / f"{name}.out", "w")  # noqa: SIM115 - closed below
    cmd = [sys.executable, "-m", "runtime.cli", "worker", "--tasks", "jobtasks:register", "--poll", "0.2"]
    proc = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)
        log.close()


def runs(tmp_path: Path) -> list[str]:
    path = tmp_path / "runs.log"
    return path.read_text().splitlines() if path.exists() else []


def wait_for(check: Callable[[], bool], what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def status_of(app: Tessera, name: str) -> Counter:
    with app.db.read() as conn:
        return Counter(conn.execute(sa.select(jobs.c.status).where(jobs.c.name == name)).scalars())


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)  # several workers on several machines
def test_pl24_two_workers_share_fifty_jobs_and_each_runs_exactly_once(app: Tessera, tmp_path: Path) -> None:
    for n in range(50):
        app.jobs.defer("record", {"n": n, "sleep": 0.05}, run_at=PAST, key=f"record:{n}")
    env = env_for(app, tmp_path)
    with worker(env, tmp_path, "w1") as w1, worker(env, tmp_path, "w2") as w2:
        wait_for(lambda: status_of(app, "record")["done"] == 50, "50 jobs done")
        for proc in (w1, w2):
            proc.send_signal(signal.SIGTERM)
        assert w1.wait(timeout=60) == 0 and w2.wait(timeout=60) == 0, (tmp_path / "w1.out").read_text()
    lines = runs(tmp_path)
    ran = Counter(line.split()[2] for line in lines)
    assert sorted(ran) == sorted(str(n) for n in range(50)) and set(ran.values()) == {1}
    pids = Counter(line.split()[0] for line in lines)
    assert len(pids) == 2, f"both workers took jobs: {pids}"
    assert "SIGTERM, finishing the running jobs" in (tmp_path / "w1.out").read_text()


def test_pl24_a_worker_killed_mid_job_is_replaced_and_nothing_is_missed_or_doubled(
    app: Tessera, tmp_path: Path
) -> None:
    app.jobs.defer("gated", {"n": 1}, run_at=PAST, key="gated:1")
    app.jobs.defer("gated", {"n": 2, "wait": True}, run_at=datetime(2020, 1, 2), key="gated:2")
    env = env_for(app, tmp_path)
    with worker(env, tmp_path, "first") as first:
        wait_for(lambda: any(line.endswith("start 2") for line in runs(tmp_path)), "job 2 to start")
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=30)
    assert status_of(app, "gated") == Counter({"done": 1, "running": 1})
    (tmp_path / "gate").touch()
    with worker(env, tmp_path, "second") as second:
        wait_for(lambda: status_of(app, "gated") == Counter({"done": 2}), "job 2 to run again to completion")
        app.jobs.defer("gated", {"n": 3}, run_at=PAST, key="gated:3")
        wait_for(lambda: status_of(app, "gated") == Counter({"done": 3}), "a new job after the restart")
        time.sleep(1)  # a few more polls: nothing done may run again
        second.send_signal(signal.SIGTERM)
        assert second.wait(timeout=60) == 0
    steps = Counter(line.split(maxsplit=1)[1] for line in runs(tmp_path))
    assert steps == Counter({"start 1": 1, "end 1": 1, "start 2": 2, "end 2": 1, "start 3": 1, "end 3": 1})
    with app.db.read() as conn:
        assert conn.execute(sa.select(jobs.c.attempts).where(jobs.c.key == "gated:2")).scalar_one() == 2


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)  # the embedded default
def test_pl24_tessera_serve_runs_due_jobs_in_process_on_sqlite(app: Tessera, tmp_path: Path) -> None:
    env = env_for(app, tmp_path)

    def serve(*extra: str) -> subprocess.Popen:
        cmd = [sys.executable, "-m", "runtime.cli", "serve", "--port", str(free_port()), *extra]
        return subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    quiet = serve("--no-jobs")
    try:
        time.sleep(4)
        assert status_of(app, "workflow_timers") == Counter()  # --no-jobs: only workers run jobs
    finally:
        quiet.terminate()
        quiet.wait(timeout=30)
    busy = serve()
    try:
        wait_for(lambda: status_of(app, "workflow_timers")["done"] >= 1, "the periodic workflow timer job")
    finally:
        busy.terminate()
        assert busy.wait(timeout=30) in (0, -signal.SIGTERM)  # uvicorn re-raises the signal after a clean shutdown
