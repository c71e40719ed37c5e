"""`tessera his ...`: listen for HL7 v2 over MLLP, and simulate a realistic ADT stream (demos, tests, bench)."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from urllib.parse import urlparse

import typer


def listen(
    port: int = typer.Option(2575, min=1, max=65535, help="TCP port of the MLLP listener"),
    host: str = typer.Option("127.0.0.1", help="address to bind (0.0.0.0 for every interface)"),
) -> None:
    """Receive HL7 v2 ADT messages over MLLP and apply them (until Ctrl-C)."""
    from runtime.config import Settings
    from runtime.his.mllp import MllpServer
    from runtime.services import Tessera

    server = MllpServer(Tessera(Settings.from_env()), host, port)

    async def run() -> None:
        await server.start()
        typer.echo(f"tessera his: MLLP listener on {host}:{server.port}", err=True)
        await server.serve_forever()

    try:
        asyncio.run(run())
    except KeyboardInterrupt:
        typer.echo("tessera his: stopped", err=True)


def simulate(
    count: int = typer.Option(100, min=1, max=10_000_000, help="number of messages"),
    seed: int = typer.Option(1, help="random seed: the same seed gives the same stream"),
    send: str = typer.Option("", help="mllp://host:port or http(s)://host/api/v1/his/hl7"),
    token: str = typer.Option("", envvar="TESSERA_HIS_TOKEN", help="API token with the 'his' right (http only)"),
    rate: float = typer.Option(0.0, min=0.0, help="messages per second (0: as fast as possible)"),
    out: Path | None = typer.Option(None, help="write the messages to this file instead (one segment per line)"),
) -> None:
    """Generate a realistic ADT stream (admissions, updates, discharges, merges) with fictional patients."""
    from runtime.his.simulate import AdtSimulator, send_http, send_mllp

    if bool(send) == bool(out):
        typer.echo("give exactly one of --send URL or --out FILE", err=True)
        raise typer.Exit(2)
    messages = AdtSimulator(seed=seed).messages(count)
    if out is not None:
        with out.open("w", encoding="utf-8") as handle:
            for message in messages:
                handle.write(message.replace("\r", "\n") + "\n")
        typer.echo(f"wrote {count} messages to {out}", err=True)
        return
    target = urlparse(send)
    try:
        if target.scheme == "mllp" and target.hostname and target.port:
            acks = send_mllp(messages, target.hostname, target.port, rate or None)
        elif target.scheme in ("http", "https"):
            if not token:
                typer.echo("--token (or TESSERA_HIS_TOKEN) is needed to send over HTTP", err=True)
                raise typer.Exit(2)
            acks = send_http(messages, send, token, rate or None)
        else:
            typer.echo(f"--send: '{send}' is not mllp://host:port or http(s)://...", err=True)
            raise typer.Exit(2)
    except OSError as exc:  # refused connection, closed socket, HTTP 401/403
        typer.echo(f"tessera his simulate: {exc}", err=True)
        raise typer.Exit(1) from exc
    codes: dict[str, int] = {}
    for ack in acks:
        code = next((s.split("|")[1] for s in ack.split("\r") if s.startswith("MSA|")), "?")
        codes[code] = codes.get(code, 0) + 1
    typer.echo(f"sent {len(acks)} messages: " + ", ".join(f"{k} {v}" for k, v in sorted(codes.items())))
    if set(codes) - {"AA"}:
        sys.exit(1)


def register(group: typer.Typer) -> None:
    """Add `listen` and `simulate` to the `tessera his` command group (runtime/cli.py)."""
    group.command("listen")(listen)
    group.command("simulate")(simulate)


def start_configured_listener(tessera: object) -> object | None:
    """`tessera serve`: the MLLP listener on TESSERA_HIS_MLLP_PORT (none when unset)."""
    import os

    from runtime.his.mllp import HOST_ENV, MllpThread, configured_port

    try:
        port = configured_port()
        if port is None:
            return None
        listener = MllpThread(tessera, os.environ.get(HOST_ENV, "127.0.0.1"), port).start()
    except (ValueError, OSError) as exc:  # a bad value or a port in use: say so instead of a traceback
        typer.echo(f"tessera serve: the HIS MLLP listener cannot start: {exc}", err=True)
        raise typer.Exit(1) from exc
    typer.echo(f"  HIS MLLP listener on port {listener.port}", err=True)
    return listener
