"""A fake :class:`~ivr.telephony.call.Call` for unit tests of dialogue logic.

The caller's behaviour is keyed to what they hear: ``presses={"delivery_menu": ["2", "1"]}``
presses 2 during the first play of that prompt, 1 during the second. ``""`` means no key
that time. Keys pressed during a non-interruptible prompt are kept as typeahead, as on a
real call. The same dialogues also run against real calls in the integration tests.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from ivr.telephony.call import CallEnded, RecordingResult


def _prompt_name(uri: str) -> str:
    return uri.rsplit("/", 1)[-1].removeprefix("sound:").removeprefix("digits:")


@dataclass
class ScriptedCall:
    presses: Mapping[str, Sequence[str]] = field(default_factory=dict)
    caller: str | None = "+441632960999"
    #: the caller hangs up when this prompt starts playing (its Nth play, by "name#N")
    hangup_on: str | None = None
    recordings: Mapping[str, RecordingResult] = field(default_factory=dict)
    variables: Mapping[str, str] = field(default_factory=dict)
    played: list[str] = field(default_factory=list)
    answered: bool = False
    hung_up_by_us: bool = False
    _typeahead: list[str] = field(default_factory=list)
    _seen: dict[str, int] = field(default_factory=dict)
    _ended: bool = False

    @property
    def channel_id(self) -> str:
        return "scripted-1"

    @property
    def caller_number(self) -> str | None:
        return self.caller

    @property
    def ended(self) -> bool:
        return self._ended

    def _check(self) -> None:
        if self._ended:
            raise CallEnded(self.channel_id)

    async def answer(self) -> None:
        self._check()
        self.answered = True

    def prompts(self) -> list[str]:
        """The prompt names played, in order (without the sound:watchline/ prefix)."""
        return [_prompt_name(u) for u in self.played]

    async def play(self, media: Sequence[str], *, interruptible: bool = True) -> str | None:
        self._check()
        if interruptible and self._typeahead:
            return self._typeahead[0]
        for uri in media:
            name = _prompt_name(uri)
            n = self._seen.get(name, 0)
            self._seen[name] = n + 1
            if self.hangup_on in (name, f"{name}#{n + 1}"):
                self._ended = True
                raise CallEnded(self.channel_id)
            self.played.append(uri)
            script = self.presses.get(name, ())
            key = script[n] if n < len(script) else ""
            if key:
                self._typeahead.extend(key)
                if interruptible:
                    return self._typeahead[0]
        return None

    async def collect(
        self,
        *,
        max_digits: int = 1,
        timeout_s: float = 6.0,
        inter_digit_timeout_s: float = 4.0,
        terminators: str = "#",
    ) -> str:
        got: list[str] = []
        while self._typeahead and len(got) < max_digits:
            key = self._typeahead.pop(0)
            if key in terminators:
                break
            got.append(key)
        if not got:
            self._check()
        return "".join(got)

    async def record(
        self,
        name: str,
        *,
        max_duration_s: int,
        max_silence_s: int,
        beep: bool = True,
        terminate_on: str = "#",
    ) -> RecordingResult:
        self._check()
        self.played.append(f"record:{name}")
        result = self.recordings.get(name) or RecordingResult(name, "silence", 3.0)
        if result.ended_by == "hangup":
            self._ended = True
        return result

    async def fetch_recording(self, name: str) -> bytes:
        return b""

    async def hangup(self) -> None:
        self.hung_up_by_us = True
        self._ended = True

    async def get_variable(self, name: str) -> str | None:
        return self.variables.get(name)
