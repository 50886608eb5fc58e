"""The fleet's handle on one phone worker process: start it, talk to it, stop it.

The handle owns exactly one child PID and one reader task. Stopping is polite first (a
``shutdown`` command, so pjsua2 tears down in order and exits 0) and forceful only after a
bounded wait, and only ever against that PID.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sip_test_rig.errors import ProtocolError, WorkerFailed
from sip_test_rig.protocol import Command, Event, Shutdown, decode_event, encode_command

log = logging.getLogger(__name__)

EventSink = Callable[["WorkerProcess", Event, dict[str, Any]], None]
_PACKAGE_ROOT = Path(__file__).resolve().parent.parent


class WorkerProcess:
    def __init__(self, index: int, proc: asyncio.subprocess.Process, log_path: Path) -> None:
        self.index = index
        self.log_path = log_path
        self.sip_port = 0
        self.stopped_cleanly = False
        #: Phones placed here (counted before their add_phone is answered).
        self.phone_ids: set[str] = set()
        self._proc = proc
        self._reader: asyncio.Task[None] | None = None

    @property
    def pid(self) -> int:
        return self._proc.pid

    @property
    def returncode(self) -> int | None:
        return self._proc.returncode

    @classmethod
    async def start(
        cls, index: int, log_path: Path, sink: EventSink, *, timeout_s: float, python: str
    ) -> WorkerProcess:
        """Spawn a worker and wait (bounded) for its ``ready`` event."""
        env = dict(os.environ)
        # The worker imports this package; make that work from a plain checkout too.
        env["PYTHONPATH"] = os.pathsep.join(
            filter(None, [str(_PACKAGE_ROOT), env.get("PYTHONPATH")])
        )
        with log_path.open("ab") as stderr:
            proc = await asyncio.create_subprocess_exec(
                python,
                "-m",
                "sip_test_rig.worker",
                "--workdir",
                str(log_path.parent),
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=stderr,
                env=env,
                limit=1 << 20,
            )
        worker = cls(index, proc, log_path)
        try:
            async with asyncio.timeout(timeout_s):
                kind, fields = await worker._read_event()
            if kind is not Event.READY:
                raise WorkerFailed(f"expected ready, got {kind}", pid=proc.pid)
            worker.sip_port = int(fields["sip_port"])
        except BaseException as e:
            await worker.kill()
            if isinstance(e, TimeoutError):
                raise WorkerFailed(
                    f"worker not ready within {timeout_s} s",
                    pid=proc.pid,
                    log_tail=worker.log_tail(),
                ) from None
            raise
        worker._reader = asyncio.create_task(worker._read_events(sink), name=f"rig-worker-{index}")
        return worker

    async def send(self, command: Command) -> None:
        stdin = self._proc.stdin
        if stdin is None or stdin.is_closing() or self._proc.returncode is not None:
            raise WorkerFailed("worker is not running", pid=self.pid, log_tail=self.log_tail())
        stdin.write(encode_command(command))
        try:
            async with asyncio.timeout(5):
                await stdin.drain()
        except (ConnectionError, TimeoutError) as e:
            raise WorkerFailed(f"cannot write to worker: {e!r}", pid=self.pid) from None

    async def stop(self, timeout_s: float) -> int | None:
        """Ask for a clean shutdown; kill this PID if it has not exited within ``timeout_s``."""
        if self._proc.returncode is None:
            with contextlib.suppress(WorkerFailed):
                await self.send(Shutdown())
            try:
                async with asyncio.timeout(timeout_s):
                    await self._proc.wait()
            except TimeoutError:
                log.warning("worker %s did not stop in %s s; killing it", self.pid, timeout_s)
                await self.kill()
        await self._stop_reader()
        return self._proc.returncode

    async def kill(self) -> None:
        if self._proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self._proc.kill()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(5):
                    await self._proc.wait()
        await self._stop_reader()

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    async def _stop_reader(self) -> None:
        reader, self._reader = self._reader, None
        if reader is not None and reader is not asyncio.current_task():
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader

    async def _read_event(self) -> tuple[Event, dict[str, Any]]:
        assert self._proc.stdout is not None
        line = await self._proc.stdout.readline()
        if not line:
            raise EOFError
        return decode_event(line)

    async def _read_events(self, sink: EventSink) -> None:
        """Hand every event to ``sink`` until EOF; then report how the worker ended."""
        while True:
            try:
                kind, fields = await self._read_event()
            except EOFError:
                break
            except ProtocolError as e:
                log.error("worker %s: %s", self.pid, e)
                continue
            if kind is Event.STOPPED:
                self.stopped_cleanly = True  # reported once, with the exit code, at EOF
                continue
            try:
                sink(self, kind, fields)
            except Exception:
                log.exception("handling %s from worker %s failed", kind, self.pid)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(5):
                await self._proc.wait()
        sink(self, Event.STOPPED, {"clean": self.stopped_cleanly, "exit_code": self.returncode})
