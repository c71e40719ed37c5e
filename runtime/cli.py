"""The `tessera` command: database, packs, and the server.

IT deploys packs like code: `validate` checks a pack without touching anything, `diff` prints what
a deploy would do in plain words, `deploy` applies it in one transaction.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import typer

from runtime.blueprints.errors import PackInvalid
from runtime.config import Settings
from runtime.identity.policy import generate_password
from runtime.storage.deploy import DeployRefused

app = typer.Typer(help="Tessera: blueprint packs, database and server.", no_args_is_help=True, add_completion=False)
db_app = typer.Typer(help="Platform database.", no_args_is_help=True)
pack_app = typer.Typer(help="Blueprint packs: validate, diff, deploy, list.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(pack_app, name="pack")
keys_app = typer.Typer(help="Encryption keys of sensitive fields: status, rotate, retire.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")
his_app = typer.Typer(help="HIS integration: ADT stream simulation, bulk import of the archive.", no_args_is_help=True)
app.add_typer(his_app, name="his")
from runtime.his.cli import register as _register_his  # noqa: E402 - `his listen` and `his simulate` (runtime/his)

_register_his(his_app)

SHIPPED_PACKS = Path(__file__).resolve().parent.parent / "blueprints"


def _tessera(upgrade: bool = True):  # noqa: ANN202 - imported lazily to keep `--help` fast
    from runtime.services import Tessera

    return Tessera(Settings.from_env(), upgrade=upgrade)


def _print_errors(exc: PackInvalid) -> None:
    typer.echo(f"{len(exc.errors)} problem(s):", err=True)
    for error in exc.errors:
        typer.echo(f"  {error}", err=True)


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Create or upgrade the platform tables (alembic)."""
    from runtime.storage import migrate

    t = _tessera(upgrade=False)
    migrate.upgrade(t.db)
    typer.echo(f"database at revision {migrate.current_revision(t.db)}")


@pack_app.command("validate")
def pack_validate(path: Path, as_json: bool = typer.Option(False, "--json", help="errors as JSON")) -> None:
    """Check a pack against the published schema and its cross-file references. Touches no database."""
    from runtime.blueprints import load_pack

    try:
        pack = load_pack(path)
    except PackInvalid as exc:
        if as_json:
            typer.echo(json.dumps([e.as_dict() for e in exc.errors], ensure_ascii=False, indent=2))
        else:
            _print_errors(exc)
        raise typer.Exit(1) from exc
    typer.echo(
        f"{pack.id} {pack.version}: valid ({len(pack.entities)} entities, {len(pack.forms)} forms, "
        f"{len(pack.views)} views, {len(pack.option_sets)} option sets)"
    )


@pack_app.command("diff")
def pack_diff(path: Path) -> None:
    """Print what deploying the pack would change, without changing anything."""
    from runtime.storage.deploy import plan_deploy

    t = _tessera()
    try:
        pack = t.load_pack(path)
        with t.db.read() as conn:
            plan = plan_deploy(conn, pack)
    except PackInvalid as exc:
        _print_errors(exc)
        raise typer.Exit(1) from exc
    for line in plan.describe():
        typer.echo(line)
    if plan.problems:
        raise typer.Exit(2)


@pack_app.command("deploy")
def pack_deploy(path: Path, demo: bool = typer.Option(False, help="also load the pack's demo data")) -> None:
    """Apply a pack in one transaction: all of it or, on any error, nothing."""
    t = _tessera()
    _deploy(t, path, demo)


def _deploy(t, path: Path, demo: bool) -> None:  # noqa: ANN001
    from runtime.demo import load_demo

    try:
        pack = t.load_pack(path)
        result = t.deploy(pack)
    except PackInvalid as exc:
        _print_errors(exc)
        raise typer.Exit(1) from exc
    except DeployRefused as exc:
        typer.echo("deploy refused, nothing was changed:", err=True)
        for p in exc.problems:
            typer.echo(f"  {p}", err=True)
        raise typer.Exit(2) from exc
    for line in result.plan.describe():
        typer.echo(line)
    if demo:
        created = load_demo(t, pack)
        if created:
            typer.echo("  demo data: " + ", ".join(f"{n} {e}" for e, n in created.items()))


@pack_app.command("list")
def pack_list() -> None:
    """The deployed packs and their versions."""
    t = _tessera()
    for pack in t.registry.packs.values():
        typer.echo(f"{pack.id} {pack.version} ({len(pack.entities)} entities)")


def shipped_pack_dirs() -> list[Path]:
    return sorted(p for p in SHIPPED_PACKS.iterdir() if (p / "pack.json").exists()) if SHIPPED_PACKS.exists() else []


def _ensure_admin(t) -> str | None:  # noqa: ANN001
    """Create the admin account on first run and return its new password (printed once)."""
    if t.users.by_username("admin") is not None:
        return None
    password = generate_password()  # meets the password rules, unlike a bare random token
    t.users.create("admin", "系统管理员", password, is_admin=True)
    (t.settings.data_dir / "admin-password.txt").write_text(password + "\n")
    return password


@app.command("serve")
def serve(
    demo: bool = typer.Option(False, help="deploy the shipped packs with demo data and create the admin login"),
    host: str = typer.Option("127.0.0.1"),
    port: int = typer.Option(8000),
    jobs: bool = typer.Option(
        True, "--jobs/--no-jobs", help="run background jobs in this process (--no-jobs: only workers run them)"
    ),
) -> None:
    """Run the web application and API."""
    import uvicorn

    from runtime.api import create_app
    from runtime.demo import demo_login_lines

    t = _tessera()
    if demo:
        for path in shipped_pack_dirs():
            _deploy(t, path, demo=True)
        password = _ensure_admin(t)
        saved = t.settings.data_dir / "admin-password.txt"
        shown = password or (saved.read_text().strip() if saved.exists() else "(unchanged; see your notes)")
        typer.echo("")
        typer.echo(f"  Tessera is running at http://{host}:{port}")
        typer.echo(f"  sign in as: admin / {shown}")
        for line in demo_login_lines(t):
            typer.echo(line)
        typer.echo("")
    sys.stdout.flush()
    app = create_app(t)
    # background jobs run in-process while serving unless --no-jobs or TESSERA_JOBS_IN_PROCESS=0 (workers run them)
    app.state.jobs.enabled = jobs and os.environ.get("TESSERA_JOBS_IN_PROCESS", "1").lower() not in ("0", "false", "no")
    from runtime.his.cli import start_configured_listener

    start_configured_listener(t)  # HL7 v2 over MLLP when TESSERA_HIS_MLLP_PORT is set
    uvicorn.run(app, host=host, port=port, log_level="info")


@app.command("worker")
def worker(
    concurrency: int = typer.Option(1, min=1, max=64, help="jobs run at the same time by this process"),
    poll: float = typer.Option(1.0, min=0.1, help="seconds between looks for due jobs"),
    tasks: list[str] = typer.Option(
        [], "--tasks", help="MODULE:FUNCTION called with the app to register more job tasks (repeatable)"
    ),
) -> None:
    """Run background jobs in this process until SIGTERM or Ctrl+C (several workers may share one database)."""
    import importlib
    import logging
    import signal
    import threading

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    t = _tessera()
    for spec in tasks:
        module, _, function = spec.partition(":")
        try:
            getattr(importlib.import_module(module), function or "register")(t)
        except (ImportError, AttributeError) as exc:
            typer.echo(f"--tasks {spec}: {exc}", err=True)
            raise typer.Exit(2) from exc
    stop = threading.Event()

    def on_signal(signum: int, _frame: object) -> None:
        typer.echo(f"tessera worker: {signal.Signals(signum).name}, finishing the running jobs", err=True)
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    typer.echo(f"tessera worker {t.jobs.worker_id} running jobs ({t.db.dialect}, concurrency {concurrency})", err=True)
    try:
        t.jobs.work(stop, concurrency=concurrency, poll_seconds=poll)
    finally:
        t.close()
    typer.echo("tessera worker stopped", err=True)


@keys_app.command("status")
def keys_status() -> None:
    """The keys known, the current one, and how many stored values each key encrypts."""
    from runtime.security.keys import encrypted_columns, key_usage

    t = _tessera()
    ring = t.cipher.keys.ring()
    typer.echo(f"keys from {ring.origin}: current {ring.current}; known {', '.join(sorted(ring.keys))}")
    with t.db.read() as conn:
        usage = key_usage(conn, encrypted_columns(conn, t.registry.entities.values()))
    totals: dict[str, int] = {}
    for column, counts in usage.items():
        typer.echo(f"  {column}: " + (", ".join(f"{k} {n}" for k, n in sorted(counts.items())) or "no values"))
        for k, n in counts.items():
            totals[k] = totals.get(k, 0) + n
    typer.echo("values per key: " + (", ".join(f"{k} {n}" for k, n in sorted(totals.items())) or "none"))


@keys_app.command("rotate")
def keys_rotate() -> None:
    """Make a new current key (key file) or adopt TESSERA_FIELD_KEY, then re-encrypt every older value."""
    from runtime.security.keys import add_key, encrypted_columns, rotate_values

    t = _tessera()
    provider = t.cipher.keys
    if provider.key_file is not None:
        ring = add_key(provider.key_file)
        provider.reload()
        typer.echo(f"new current key {ring.current} in {provider.key_file}")
    else:
        ring = provider.ring()
        typer.echo(f"current key {ring.current} (TESSERA_FIELD_KEY)")
    with t.db.read() as conn:
        columns = encrypted_columns(conn, t.registry.entities.values())
    counts = rotate_values(t.db, columns, t.cipher)
    for name, c in counts.items():
        typer.echo(f"  {name}: {c.rotated} re-encrypted, {c.current} already under {ring.current}, {c.failed} failed")
    failures = [f for c in counts.values() for f in c.failures]
    for failure in failures:
        typer.echo(f"  cannot re-encrypt {failure}", err=True)
    if failures:
        raise typer.Exit(1)
    old = sorted(k for k in ring.keys if k != ring.current)
    if old:
        how = "tessera keys retire " + " / ".join(old) if provider.key_file else "remove TESSERA_FIELD_KEYS_OLD"
        typer.echo(f"every value is under {ring.current}; the old keys are no longer needed: {how}")


@keys_app.command("retire")
def keys_retire(key_id: str) -> None:
    """Remove an old key from the key file, refused while any stored value still needs it."""
    from runtime.security.keys import KeyConfigError, drop_key, encrypted_columns, key_usage

    t = _tessera()
    if t.cipher.keys.key_file is None:
        typer.echo("the keys come from the environment: remove the key from TESSERA_FIELD_KEYS_OLD", err=True)
        raise typer.Exit(2)
    with t.db.read() as conn:
        usage = key_usage(conn, encrypted_columns(conn, t.registry.entities.values()))
    still = {column: counts[key_id] for column, counts in usage.items() if counts.get(key_id)}
    if still:
        typer.echo(f"'{key_id}' still encrypts values; run `tessera keys rotate` first:", err=True)
        for column, n in still.items():
            typer.echo(f"  {column}: {n}", err=True)
        raise typer.Exit(2)
    try:
        drop_key(t.cipher.keys.key_file, key_id)
    except KeyConfigError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from exc
    typer.echo(f"key {key_id} removed from {t.cipher.keys.key_file}")


@his_app.command("import-patients")
def his_import_patients(
    path: Path = typer.Argument(..., exists=True, dir_okay=False, readable=True, help="CSV file, header = fields"),
    entity: str = typer.Option("patient", help="the entity loaded"),
    key: str = typer.Option("his_patient_id", help="unique field matching a row to a stored record"),
    stamp: str = typer.Option("his_updated_at", help="a stored record with a newer STAMP is kept ('' : none)"),
    dry_run: bool = typer.Option(False, "--dry-run", help="read and validate every row, write nothing"),
    as_json: bool = typer.Option(False, "--json", help="the report as JSON"),
) -> None:
    """Bulk-load the HIS patient archive (PC-17): every row validated first, all or nothing, upsert by KEY."""
    from runtime.errors import TesseraError
    from runtime.his.bulk_import import bulk_import

    t = _tessera()
    try:
        report = bulk_import(t, entity, path, key=key, commit=not dry_run, stamp=stamp or None)
    except TesseraError as exc:
        typer.echo(f"{path.name}: {exc.message}", err=True)
        raise typer.Exit(2) from exc
    if as_json:
        typer.echo(json.dumps(report.as_dict(), ensure_ascii=False, indent=2))
    for error in report.errors if not as_json else []:
        typer.echo(f"{report.file}:{error.line}: {error.field}: {error.message}", err=True)
    if report.error_count:
        more = report.error_count - len(report.errors)
        typer.echo(f"{report.error_count} error(s){f' ({more} not listed)' if more else ''}; nothing written", err=True)
        raise typer.Exit(1)
    verb = "checked (dry run)" if dry_run else "loaded"
    typer.echo(
        f"{report.rows} rows {verb} in {report.seconds['total']:.1f} s: "
        f"{report.created} created, {report.updated} updated, {report.unchanged} unchanged"
    )


def _install_extension_commands() -> None:
    """Commands of installed extensions (entry point group "tessera.cli", e.g. the builder's `pack export` and
    `pack upgrade`): each is called with the command groups, so the runtime never imports them by name."""
    from importlib.metadata import entry_points

    groups = {"": app, "db": db_app, "pack": pack_app, "keys": keys_app}
    for ep in entry_points(group="tessera.cli"):
        try:
            ep.load()(groups)
        except Exception as exc:  # noqa: BLE001 - a broken extension must not take the whole CLI down
            print(f"tessera: the CLI extension '{ep.name}' failed to load: {exc}", file=sys.stderr)


_install_extension_commands()


if __name__ == "__main__":
    app()
