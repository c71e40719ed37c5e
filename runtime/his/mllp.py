"""The MLLP listener: HL7 v2 over TCP, each message framed 0x0B ... 0x1C 0x0D, each answered with an
ACK in the same framing, in order. A bad message gets a NAK and the connection goes on: a HIS
interface engine sends a stream and must never be stalled by one broken message.

Database work runs in a worker thread (``asyncio.to_thread``) so one slow message never blocks the
other connections; messages of one connection are processed one after the other, in arrival order.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import threading
from typing import Any

from runtime.his.hl7v2 import handle_hl7
from runtime.his.service import HisService

log = logging.getLogger("tessera.his.mllp")
START, END = b"\x0b", b"\x1c\x0d"
MAX_FRAME = 10 * 1024 * 1024
PORT_ENV = "TESSERA_HIS_MLLP_PORT"
HOST_ENV = "TESSERA_HIS_MLLP_HOST"


def frame(text: str) -> bytes:
    return START + text.encode("utf-8") + END


def configured_port() -> int | None:
    """The MLLP port from TESSERA_HIS_MLLP_PORT; unset or empty means no listener."""
    raw = os.environ.get(PORT_ENV, "").strip()
    if not raw:
        return None
    if not raw.isdigit() or not 0 < int(raw) < 65536:
        raise ValueError(f"{PORT_ENV}: '{raw}' is not a TCP port (1-65535)")
    return int(raw)


class MllpServer:
    """An asyncio MLLP server bound to one port."""

    def __init__(self, tessera: Any, host: str = "127.0.0.1", port: int = 2575):
        self.service = HisService(tessera)
        self.host, self.port = host, port
        self._server: asyncio.AbstractServer | None = None

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._client, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        log.info("HIS MLLP listener on %s:%s", self.host, self.port)

    async def serve_forever(self) -> None:
        if self._server is None:
            await self.start()
        assert self._server is not None
        async with self._server:
            await self._server.serve_forever()

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        buffer = b""
        try:
            while True:
                chunk = await reader.read(65536)
                if not chunk:
                    break
                buffer += chunk
                while (end := buffer.find(END)) >= 0:
                    payload, buffer = buffer[:end], buffer[end + len(END) :]
                    start = payload.find(START)
                    payload = payload[start + 1 :] if start >= 0 else payload  # bytes before 0x0B are noise
                    outcome = await asyncio.to_thread(handle_hl7, self.service, payload, "mllp")
                    writer.write(frame(outcome.reply))
                    await writer.drain()
                if len(buffer) > MAX_FRAME:
                    outcome = await asyncio.to_thread(handle_hl7, self.service, buffer[:2000], "mllp")
                    writer.write(frame(outcome.reply))
                    await writer.drain()
                    buffer = b""
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()


class MllpThread:
    """The listener on its own event loop in a daemon thread: for `tessera serve` and for tests."""

    def __init__(self, tessera: Any, host: str = "127.0.0.1", port: int = 0):
        self.server = MllpServer(tessera, host, port)
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="tessera-his-mllp", daemon=True)

    @property
    def port(self) -> int:
        return self.server.port

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self.server.start())
        except BaseException as exc:  # noqa: BLE001 - reported to start()
            self._error = exc
            self._ready.set()
            return
        self._ready.set()
        self._loop.run_forever()
        pending = [t for t in asyncio.all_tasks(self._loop) if not t.done()]
        for task in pending:  # open connections: end their handlers cleanly
            task.cancel()
        self._loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        self._loop.run_until_complete(self.server.close())
        self._loop.close()

    def start(self) -> MllpThread:
        self._thread.start()
        self._ready.wait(10)
        if self._error is not None:
            raise self._error
        return self

    def stop(self) -> None:
        if self._loop.is_running():
            self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
