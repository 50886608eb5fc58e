"""Route every call that enters our Stasis application to its dialogue.

The dialplan enters Stasis with the dialogue's name as the first argument
(``Stasis(watchline,report)``, ``Stasis(watchline,delivery,<attempt>,<amd>)``). The
dispatcher owns one task per call in its TaskGroup: a dialogue that fails is logged and
its call hung up, and never takes the dispatcher or other calls down with it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from contextvars import ContextVar

from ivr.ari.client import AriClient
from ivr.ari.models import StasisStart
from ivr.telephony.ari_call import AriCall
from ivr.telephony.call import CallEnded

log = logging.getLogger(__name__)

#: The channel a log line is about, carried across the dialogue's awaits.
current_channel: ContextVar[str] = ContextVar("current_channel", default="-")

Dialogue = Callable[[AriCall, tuple[str, ...]], Awaitable[None]]


class StasisDispatcher:
    def __init__(self, ari: AriClient, dialogues: Mapping[str, Dialogue]) -> None:
        self._ari = ari
        self._dialogues = dict(dialogues)
        self.active: dict[str, asyncio.Task[None]] = {}

    def register(self, name: str, dialogue: Dialogue) -> None:
        self._dialogues[name] = dialogue

    async def run(self) -> None:
        """Serve until cancelled; cancelling ends every dialogue still running."""
        with self._ari.events() as events:
            async with asyncio.TaskGroup() as tg:
                async for event in events:
                    if isinstance(event, StasisStart):
                        self._start(tg, event)

    def _start(self, tg: asyncio.TaskGroup, event: StasisStart) -> None:
        channel = event.channel
        name = event.args[0] if event.args else ""
        dialogue = self._dialogues.get(name)
        call = AriCall(self._ari, channel.id, caller_number=channel.caller.number or None)
        if dialogue is None:
            log.warning(
                "no dialogue %r for channel %s (%s); hanging up", name, channel.id, channel.name
            )
            tg.create_task(self._refuse(call))
            return
        task = tg.create_task(
            self._serve(dialogue, call, tuple(event.args[1:])), name=f"dialogue-{name}-{channel.id}"
        )
        self.active[channel.id] = task

        def forget(_: asyncio.Task[None], channel_id: str = channel.id) -> None:
            self.active.pop(channel_id, None)

        task.add_done_callback(forget)

    async def _refuse(self, call: AriCall) -> None:
        await call.hangup()
        call.close()

    async def _serve(self, dialogue: Dialogue, call: AriCall, args: tuple[str, ...]) -> None:
        current_channel.set(call.channel_id)
        try:
            await dialogue(call, args)
        except CallEnded:
            log.info("caller hung up on channel %s", call.channel_id)
        except Exception:
            log.exception("dialogue failed on channel %s; hanging up", call.channel_id)
        finally:
            await call.hangup()
            call.close()
