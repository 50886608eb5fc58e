"""The composition root: build every long-lived part from one Settings object.

    async with Controller(settings) as controller:
        ...                      # AMI + ARI connected, dialogues served, API listening

``Controller`` owns each part's lifetime through one AsyncExitStack and one TaskGroup:
nothing is fire-and-forget, and leaving the block stops everything in reverse order.
``run()`` is what ``ivr serve`` calls: it serves until SIGTERM or SIGINT.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import threading
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

from aiohttp import web

from ivr.ami.client import AmiClient
from ivr.ari.client import AriClient
from ivr.auth.limiter import FailureLimiter
from ivr.clock import Clock, SystemClock
from ivr.components import Component, ComponentFactory, factories
from ivr.config import Settings
from ivr.errors import ConfigError
from ivr.flows.selftest import selftest_dialogue
from ivr.sandbox import AsteriskSandbox, SandboxInfo
from ivr.speech.asr.base import AsrEngine
from ivr.speech.asr.default import default_recogniser
from ivr.speech.tts.ensure import ensure_prompts
from ivr.store.database import Database
from ivr.telephony.dispatcher import Dialogue, StasisDispatcher
from ivr.web.app import create_app

log = logging.getLogger(__name__)

#: The only AMI events the controller reads; Asterisk filters out the rest before sending.
#: (Event lists answering our own actions, like PJSIPShowEndpoint, are not filtered.)
#: The regex runs over the whole event text, so the name must end at the line break
#: ([[:space:]] matches its \r): "Hangup" alone would also let every HangupRequest through.
CONTROLLER_EVENTS = (
    "Event: (OriginateResponse|Hangup|DialEnd|UserEvent|FullyBooted|Shutdown|Reload)[[:space:]]",
)


class Controller:
    def __init__(
        self,
        settings: Settings,
        *,
        sandbox: SandboxInfo | None = None,
        dialogues: Mapping[str, Dialogue] | None = None,
        serve_web: bool = True,
        components: list[ComponentFactory] | None = None,
        clock: Clock | None = None,
        install_prompts: bool = True,
    ) -> None:
        self.settings = settings
        self.clock: Clock = clock or SystemClock()
        self._given_sandbox = sandbox
        self._extra_dialogues = dict(dialogues or {})
        self._serve_web = serve_web
        self._factories = components
        self._install_prompts = install_prompts
        self.db: Database | None = None
        self.components: list[Component] = []
        self.auth_limiter = FailureLimiter(max_failures=10, window_s=60)
        self._asr: AsrEngine | None = None
        self._asr_lock = threading.Lock()
        self._stack = contextlib.AsyncExitStack()
        self._tasks: asyncio.TaskGroup | None = None
        self.asterisk: SandboxInfo | None = None
        self.ami: AmiClient | None = None
        self.ari: AriClient | None = None
        self.dispatcher: StasisDispatcher | None = None
        self.web_port: int | None = None

    # ---- lifecycle ----------------------------------------------------------------------

    async def __aenter__(self) -> Controller:
        try:
            await self._start()
        except BaseException:
            await self._stack.aclose()
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._stack.aclose()

    async def _start(self) -> None:
        s = self.settings
        s.data_dir.mkdir(parents=True, exist_ok=True)
        self.db = await self._stack.enter_async_context(Database.open(s.resolved_database_url))
        self.asterisk = await self._asterisk_endpoint()
        a = self.asterisk
        if self._install_prompts:
            # warm: a fraction of a second; cold: about 30 s of Piper, once per machine
            await asyncio.to_thread(ensure_prompts, s.speech, a.sounds_dir)
        self.ami = await self._stack.enter_async_context(
            # the dialplan/verbose classes (Newexten, VarSet...) would cost CPU on every call
            # and nothing here reads them
            AmiClient(
                a.host, a.ami_port, a.ami_username, a.ami_secret,
                event_mask="system,call,user", event_filters=CONTROLLER_EVENTS,
            )
        )  # fmt: skip
        self.ari = await self._stack.enter_async_context(
            # no dialogue waits for a playback to start, only to finish; asked not to send
            # them, Asterisk saves us three of a delivery call's seven events
            AriClient(
                a.ari_url, a.ari_username, a.ari_password, a.ari_app,
                ignored_events=("PlaybackStarted", "PlaybackContinuing"),
            )
        )  # fmt: skip
        await self.ari.wait_connected(timeout_s=15)
        dialogues: dict[str, Dialogue] = {"selftest": selftest_dialogue()}
        chosen = factories(s.components) if self._factories is None else self._factories
        self.components = [make(self) for make in chosen]
        for component in self.components:
            dialogues.update(component.dialogues())
        dialogues.update(self._extra_dialogues)
        self.dispatcher = StasisDispatcher(self.ari, dialogues)
        self._tasks = await self._stack.enter_async_context(_TaskOwner())
        self._tasks.create_task(self.dispatcher.run(), name="stasis-dispatcher")
        for component in self.components:
            self._tasks.create_task(component.run(), name=f"component-{component.name}")
        if self._serve_web:
            await self._start_web()
        log.info(
            "controller up: Asterisk %s:%d, API on %s:%s",
            a.host,
            a.ami_port,
            s.web.host,
            self.web_port,
        )

    async def _asterisk_endpoint(self) -> SandboxInfo:
        """The sandbox given, the detached one (`ivr asterisk up`), or a private one."""
        if self._given_sandbox is not None:
            return self._given_sandbox
        s = self.settings
        if s.asterisk.mode == "external":
            return _external_info(s)
        from ivr.cli.asterisk import running_detached, state_dir

        found = running_detached(s)
        if found is not None:
            return found[0]
        sandbox = AsteriskSandbox(s.sandbox, state_dir(s), ari_app=s.asterisk.ari_app)
        await self._stack.enter_async_context(sandbox)
        return sandbox.info

    def speech_recogniser(self) -> AsrEngine:
        """The controller's one speech recogniser, loaded on first use (thread-safe; call
        it from a worker thread, loading takes a fraction of a second)."""
        with self._asr_lock:
            if self._asr is None:
                self._asr = default_recogniser(self.settings.speech)
            return self._asr

    def component(self, name: str) -> Component:
        for c in self.components:
            if c.name == name:
                return c
        raise KeyError(name)

    async def _start_web(self) -> None:
        app = create_app(self)
        for component in self.components:
            component.routes(app)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        self._stack.push_async_callback(runner.cleanup)
        site = web.TCPSite(runner, self.settings.web.host, self.settings.web.port)
        await site.start()
        server = site._server
        sockets = getattr(server, "sockets", None) or []
        self.web_port = sockets[0].getsockname()[1] if sockets else self.settings.web.port

    # ---- queries ------------------------------------------------------------------------

    def health(self) -> dict[str, Any]:
        return {
            "ami": bool(self.ami and self.ami.connected),
            "ari": bool(self.ari and self.ari.connected),
            "active_calls": len(self.dispatcher.active) if self.dispatcher else 0,
        }


class _TaskOwner:
    """A TaskGroup whose tasks are cancelled (not awaited to completion) on exit."""

    def __init__(self) -> None:
        self._group = asyncio.TaskGroup()
        self._tasks: list[asyncio.Task[Any]] = []

    async def __aenter__(self) -> asyncio.TaskGroup:
        await self._group.__aenter__()
        original = self._group.create_task

        def create_task(coro: Any, **kw: Any) -> asyncio.Task[Any]:
            task = original(coro, **kw)
            self._tasks.append(task)
            return task

        self._group.create_task = create_task  # type: ignore[method-assign]
        return self._group

    async def __aexit__(self, *exc: Any) -> None:
        for task in self._tasks:
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._group.__aexit__(None, None, None)


def _external_info(s: Settings) -> SandboxInfo:
    a = s.asterisk
    if not a.ami_secret.get_secret_value() or not a.ari_password.get_secret_value():
        raise ConfigError("asterisk.mode = external needs asterisk.ami_secret and ari_password")
    data = s.data_dir.resolve()
    return SandboxInfo(
        instance_dir=data, host=a.host, sip_port=0, ami_port=a.ami_port,
        ami_username=a.ami_username, ami_secret=a.ami_secret.get_secret_value(),
        ari_port=a.ari_port, ari_username=a.ari_username,
        ari_password=a.ari_password.get_secret_value(), ari_app=a.ari_app,
        rtp_start=0, rtp_end=0, endpoints=(), log_file=Path("/var/log/asterisk/full"),
        recordings_dir=data / "recordings", sounds_dir=a.sounds_dir or data / "sounds",
        fax_dir=a.fax_dir or data / "fax",
        sounds_dir_in_asterisk=a.media_dir_in_asterisk or str(data / "sounds"),
        fax_dir_in_asterisk=a.fax_dir_in_asterisk or str(a.fax_dir or data / "fax"),
    )  # fmt: skip


def run(settings: Settings) -> int:
    """Serve until SIGTERM/SIGINT; return the process exit code."""

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        async with Controller(settings) as controller:
            print(
                f"watchline serving on http://{settings.web.host}:{controller.web_port}", flush=True
            )
            await stop.wait()
            log.info("stopping")

    asyncio.run(main())
    return 0
