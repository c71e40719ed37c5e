"""`tessera pack export` and `tessera pack upgrade`: the builder's commands, mounted into the `tessera` CLI.

The runtime never imports the builder: runtime/cli.py calls every entry point of the group
"tessera.cli" with its command groups, and this module's `install` adds its commands to `pack`.
Heavy imports happen inside the commands so `tessera --help` stays fast.
"""

from __future__ import annotations

import json
from pathlib import Path

import typer

USAGE_CONFLICT = 3


def install(groups: dict[str, typer.Typer]) -> None:
    """Add the builder's commands to the `pack` group."""
    pack = groups["pack"]
    pack.command("export")(pack_export)
    pack.command("upgrade")(pack_upgrade)


def _workspace():  # noqa: ANN202 - imported lazily
    from builder.workspace import Workspace
    from runtime.config import Settings
    from runtime.services import Tessera

    return Workspace(Tessera(Settings.from_env()))


def pack_export(
    pack_id: str,
    dest: Path,
    as_zip: bool = typer.Option(False, "--zip", help="write <dest>/<pack_id>.zip instead of a folder"),
) -> None:
    """Write a deployed pack (with its builder edits) as a pack folder or zip that `pack deploy` accepts."""
    from runtime.errors import TesseraError

    try:
        path = _workspace().export(pack_id, dest, as_zip=as_zip)
    except (TesseraError, FileExistsError) as exc:
        typer.echo(str(getattr(exc, "message", exc)), err=True)
        raise typer.Exit(1) from exc
    typer.echo(str(path))


def pack_upgrade(
    pack_id: str,
    shipped: Path,
    take: list[str] = typer.Option(
        [], "--take", help="resolve a conflict: CONFLICT_ID=ours|theirs (repeatable); 'all=theirs' for every one"
    ),
    interactive: bool = typer.Option(False, "--interactive", "-i", help="ask for each conflict"),
    dry_run: bool = typer.Option(False, "--dry-run", help="only show the merge"),
) -> None:
    """Merge a new shipped version of a pack with the local builder edits (three-way) and deploy it."""
    from runtime.blueprints.errors import PackInvalid
    from runtime.errors import TesseraError
    from runtime.storage.deploy import DeployRefused

    ws = _workspace()
    try:
        preview = ws.upgrade_preview(pack_id, shipped)
        for change in preview["changes"]:
            typer.echo(f"  {change['summary']['zh']} / {change['summary']['en']}")
        resolutions = _resolutions(take, preview["conflicts"], interactive)
        missing = [c for c in preview["conflicts"] if c["id"] not in resolutions]
        if missing:
            typer.echo(f"{len(missing)} conflict(s) need a choice (--take ID=ours|theirs or --interactive):", err=True)
            for c in missing:
                typer.echo(_conflict_text(c), err=True)
            raise typer.Exit(USAGE_CONFLICT)
        if dry_run:
            typer.echo(f"dry run: {pack_id} would become {preview['version']}")
            return
        version = ws.upgrade(pack_id, shipped, resolutions=resolutions, user="cli", user_id=None)
    except PackInvalid as exc:
        typer.echo(f"{len(exc.errors)} problem(s):", err=True)
        for error in exc.errors:
            typer.echo(f"  {error}", err=True)
        raise typer.Exit(1) from exc
    except DeployRefused as exc:
        typer.echo("upgrade refused, nothing was changed:", err=True)
        for p in exc.problems:
            typer.echo(f"  {p}", err=True)
        raise typer.Exit(2) from exc
    except TesseraError as exc:
        typer.echo(exc.message, err=True)
        raise typer.Exit(1) from exc
    typer.echo(f"{pack_id} upgraded: version {version['number']} ({version['pack_version']})")


def _resolutions(take: list[str], conflicts: list[dict], interactive: bool) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in take:
        cid, _, choice = item.rpartition("=")
        if choice not in ("ours", "theirs") or not cid:
            raise typer.BadParameter(f"--take {item!r}: use CONFLICT_ID=ours or CONFLICT_ID=theirs")
        if cid == "all":
            out.update({c["id"]: choice for c in conflicts if c["id"] not in out})
        else:
            out[cid] = choice
    if interactive:
        for c in conflicts:
            if c["id"] not in out:
                typer.echo(_conflict_text(c))
                out[c["id"]] = typer.prompt("  keep", type=typer.Choice(["ours", "theirs"]), default="ours")
    return out


def _conflict_text(c: dict) -> str:
    def show(v: object) -> str:
        return json.dumps(v, ensure_ascii=False)[:200]

    return f"  {c['id']}\n    base:   {show(c['base'])}\n    ours:   {show(c['ours'])}\n    theirs: {show(c['theirs'])}"
