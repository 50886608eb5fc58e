"""A phone process: up to 8 pjsua2 phones and 4 calls, driven by JSON lines on stdin.

Run as ``python -m sip_test_rig.worker``; :mod:`sip_test_rig.fleet` starts and owns these.
Protocol: :mod:`sip_test_rig.protocol`. pjsua2 runs on this one thread (``threadCnt=0``,
``mainThreadOnly``): an asyncio task pumps ``libHandleEvents(0)`` every 10 ms, timers run
the phones' scripts, and a reader feeds stdin lines in. EOF on stdin, a ``shutdown``
command, SIGTERM or SIGINT all lead to the same clean shutdown (see :meth:`Worker.shutdown`),
after which the process exits 0.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import logging
import os
import signal
import sys
import tempfile
from pathlib import Path
from typing import IO, Any

import pjsua2 as pj

from sip_test_rig.addressing import target_uri
from sip_test_rig.errors import ProtocolError, ScriptError
from sip_test_rig.phone import RigAccount, RigCall, WorkerContext, pj_error_text
from sip_test_rig.protocol import (
    MAX_ACCOUNTS,
    MAX_CALLS,
    AddPhone,
    Command,
    Event,
    Hangup,
    PlaceCall,
    SetScript,
    Shutdown,
    decode_command,
    encode_event,
)
from sip_test_rig.script import AnsweringMachine, InCall, PhoneScript
from sip_test_rig.wavfile import check_playable, write_tone_wav

log = logging.getLogger("sip_test_rig.worker")

PUMP_INTERVAL_S = 0.01
#: The worker's nice value when it may raise priority (as root), taken before pjsua starts
#: its media threads so that they have it too. Like a real phone's, the rig's audio must
#: keep time on a busy machine: a media clock that falls behind conceals or drops frames,
#: and a test then hears a stutter that the controller never sent.
RIG_NICE = int(os.environ.get("WATCHLINE_RIG_NICE", "-5"))
#: How long shutdown waits for hung-up calls to report DISCONNECTED.
HANGUP_GRACE_S = 3.0


class Worker:
    def __init__(self, out: IO[bytes], workdir: Path) -> None:
        self._out = out
        self._workdir = workdir
        self._loop = asyncio.get_running_loop()
        self._commands: asyncio.Queue[Command] = asyncio.Queue()
        self._accounts: dict[str, RigAccount] = {}
        self._beeps: dict[tuple[float, float], Path] = {}
        self._ep = pj.Endpoint()
        self.ctx: WorkerContext | None = None

    # ---- events out ----------------------------------------------------------------------

    def emit(self, event: Event, /, **fields: Any) -> None:
        self._out.write(encode_event(event, **fields))
        self._out.flush()

    # ---- pjsua2 lifecycle ----------------------------------------------------------------

    def start_pjsua(self) -> WorkerContext:
        ep = self._ep
        ep.libCreate()
        cfg = pj.EpConfig()
        cfg.uaConfig.threadCnt = 0
        cfg.uaConfig.mainThreadOnly = True
        cfg.uaConfig.maxCalls = MAX_CALLS
        cfg.uaConfig.userAgent = "watchline-sip-test-rig"
        level = int(os.environ.get("WATCHLINE_RIG_PJ_LOG", "3"))
        cfg.logConfig.level = level
        cfg.logConfig.consoleLevel = level
        med = cfg.medConfig
        med.clockRate = 8000
        med.sndClockRate = 8000
        med.channelCount = 1
        med.sndAutoCloseTime = -1  # else the null device closes and later calls go silent
        med.ecTailLen = 0  # no echo canceller: it would eat the tones tests listen for
        med.noVad = True  # send every frame; VAD gaps would read as lost audio
        ep.libInit(cfg)

        tcfg = pj.TransportConfig()
        tcfg.port = 0
        tcfg.boundAddress = "127.0.0.1"
        tcfg.publicAddress = "127.0.0.1"
        transport_id = ep.transportCreate(pj.PJSIP_TRANSPORT_UDP, tcfg)
        sip_port = int(ep.transportGetInfo(transport_id).localName.rpartition(":")[2])
        ep.libStart()
        ep.audDevManager().setNullDev()
        for codec in ep.codecEnum2():
            ep.codecSetPriority(codec.codecId, 255 if codec.codecId == "PCMU/8000/1" else 0)

        self.ctx = WorkerContext(
            loop=self._loop,
            emit=self.emit,
            transport_id=transport_id,
            sip_port=sip_port,
            wav_seconds=check_playable,
            beep_for=self._beep_for,
        )
        return self.ctx

    async def pump(self) -> None:
        while True:
            self._ep.libHandleEvents(0)
            await asyncio.sleep(PUMP_INTERVAL_S)

    async def _pump_for(self, seconds: float, until: Any = None) -> None:
        """Pump events (and let timers run) for up to ``seconds`` or until ``until()``."""
        deadline = self._loop.time() + seconds
        while self._loop.time() < deadline and not (until and until()):
            self._ep.libHandleEvents(0)
            await asyncio.sleep(PUMP_INTERVAL_S)

    async def shutdown(self) -> None:
        """Stop in the only order that does not crash pjsua2 (ARCHITECTURE.md)."""
        ctx = self.ctx
        for account in self._accounts.values():
            account.shutting_down = True
        if ctx is not None:
            # 1. hang up all calls and pump until each reports DISCONNECTED (bounded).
            _each_call(ctx, "hang_up")
            await self._pump_for(HANGUP_GRACE_S, until=lambda: not ctx.calls)
            # 2. drop players, recorders and Call references (stragglers included).
            _each_call(ctx, "release_media")
            ctx.calls.clear()
        # 3. shut the accounts down (this sends the un-REGISTERs).
        for account in self._accounts.values():
            with contextlib.suppress(Exception):
                account.shutdown()
        self._accounts.clear()
        # 4. collect, so no SWIG proxy of a Call or recorder outlives the library.
        gc.collect()
        survivors = [o.call_id for o in gc.get_objects() if isinstance(o, RigCall)]
        if survivors:  # libDestroy will abort at exit; say which call was held, and where
            log.error("calls still referenced at libDestroy: %s", survivors)
        # 5. destroy the library.
        self._ep.libDestroy()

    # ---- commands in ---------------------------------------------------------------------

    async def read_stdin(self) -> None:
        reader = asyncio.StreamReader(limit=1 << 20)
        await self._loop.connect_read_pipe(
            lambda: asyncio.StreamReaderProtocol(reader), os.fdopen(0, "rb", closefd=False)
        )
        while line := await reader.readline():
            if not line.strip():
                continue
            try:
                self._commands.put_nowait(decode_command(line))
            except ProtocolError as e:
                self.emit(Event.ERROR, message=str(e))
        self._commands.put_nowait(Shutdown())  # EOF: our owner is gone

    def request_shutdown(self) -> None:
        self._commands.put_nowait(Shutdown())

    async def serve(self) -> None:
        while True:
            command = await self._commands.get()
            if isinstance(command, Shutdown):
                return
            try:
                self.handle(command)
            except Exception as e:  # one bad command must not take the other phones down
                ids = {
                    k: getattr(command, k) for k in ("phone_id", "call_id") if hasattr(command, k)
                }
                name = type(command).__name__
                self.emit(Event.ERROR, command=name, message=pj_error_text(e), **ids)

    def handle(self, command: Command) -> None:
        ctx = self.ctx
        assert ctx is not None
        match command:
            case AddPhone(phone_id, username, password, registrar, script):
                if phone_id in self._accounts:
                    raise ScriptError(f"phone {phone_id} already exists")
                if len(self._accounts) >= MAX_ACCOUNTS:
                    raise ScriptError(f"a worker holds at most {MAX_ACCOUNTS} phones")
                self._check_media(script)
                account = RigAccount(ctx, phone_id, username, password, registrar, script)
                self._accounts[phone_id] = account
                self.emit(Event.PHONE_ADDED, phone_id=phone_id, uri=account.uri)
            case SetScript(phone_id, script):
                self._check_media(script)
                self._account(phone_id).script = script
                self.emit(Event.SCRIPT_SET, phone_id=phone_id)
            case PlaceCall(phone_id, call_id, script):
                account = self._account(phone_id)
                if call_id in ctx.calls:
                    raise ScriptError(f"call id {call_id} is in use")
                if len(ctx.calls) >= MAX_CALLS:
                    raise ScriptError(f"a worker holds at most {MAX_CALLS} calls at once")
                self._check_media(script)
                account.place_call(call_id, script, target_uri(script.to, account.registrar))
            case Hangup(call_id):
                if call_id not in ctx.calls:
                    raise ScriptError(f"no call {call_id} in progress")
                ctx.calls[call_id].hang_up()

    def _account(self, phone_id: str) -> RigAccount:
        try:
            return self._accounts[phone_id]
        except KeyError:
            raise ScriptError(f"no phone {phone_id} in this worker") from None

    def _check_media(self, script: InCall) -> None:
        """Refuse WAVs pjsua2 would play badly before a call depends on them."""
        for playback in script.play:
            check_playable(playback.path)
        if isinstance(script, PhoneScript) and script.answering_machine is not None:
            check_playable(script.answering_machine.greeting)

    def _beep_for(self, machine: AnsweringMachine) -> Path:
        key = (machine.beep_hz, machine.beep_s)
        if key not in self._beeps:
            path = self._workdir / f"beep-{machine.beep_hz:g}hz-{machine.beep_s:g}s.wav"
            self._beeps[key] = write_tone_wav(path, machine.beep_hz, machine.beep_s)
        return self._beeps[key]


def _each_call(ctx: WorkerContext, method: str) -> None:
    # A helper, not a loop in shutdown(): a loop variable there would keep the last Call
    # alive past libDestroy, which aborts the process at exit.
    for call in list(ctx.calls.values()):
        getattr(call, method)()


async def run(out: IO[bytes], parent_dir: Path | None) -> int:
    loop = asyncio.get_running_loop()
    # Inside the fleet's folder when given, so that a killed worker leaves nothing in /tmp.
    with tempfile.TemporaryDirectory(prefix="watchline-rig-worker-", dir=parent_dir) as workdir:
        worker = Worker(out, Path(workdir))
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, worker.request_shutdown)
        try:
            ctx = worker.start_pjsua()
            worker.emit(Event.READY, pid=os.getpid(), sip_port=ctx.sip_port)
            async with asyncio.TaskGroup() as tasks:
                pump = tasks.create_task(worker.pump())
                reader = tasks.create_task(worker.read_stdin())
                try:
                    await worker.serve()
                finally:
                    pump.cancel()
                    reader.cancel()
        finally:
            await worker.shutdown()
        worker.emit(Event.STOPPED)
    return 0


def _protocol_stdout() -> IO[bytes]:
    """Keep the real stdout for JSON events and point fd 1 at stderr.

    pjlib writes its log to C stdout; one stray line there would corrupt the protocol.
    """
    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return out


def _take_priority(nice: int) -> None:
    if nice < 0 and os.geteuid() != 0:
        return  # only root may raise it; run at the parent's priority
    try:
        os.setpriority(os.PRIO_PROCESS, 0, nice)
    except OSError as e:
        logging.getLogger(__name__).warning("rig worker keeps its priority: %s", e)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sip_test_rig.worker", description=__doc__)
    parser.add_argument("--workdir", type=Path, help="folder for the worker's temporary files")
    args = parser.parse_args(argv)
    out = _protocol_stdout()
    logging.basicConfig(
        level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(name)s %(message)s"
    )
    _take_priority(RIG_NICE)
    return asyncio.run(run(out, args.workdir))


if __name__ == "__main__":
    sys.exit(main())
