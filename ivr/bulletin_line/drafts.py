"""Recordings made on the bulletin line, before they are accepted and sent.

A draft is the recording made phone-ready the way a bulletin's audio is (``bulletins.media``:
8 kHz, silence trimmed, loudness normalised) and installed where Asterisk can play it, so
the coordinator reviews exactly what members will hear. Drafts live only in memory and in
``<sounds>/watchline/drafts/``; they are deleted when the call no longer needs them, and
any left by a crash are cleared at start-up. A draft becomes a bulletin only when sent.
"""

from __future__ import annotations

import contextlib
import secrets
import shutil
from pathlib import Path

from ivr.bulletins import media
from ivr.errors import AudioFormatError, InputError
from ivr.flows.bulletin_ports import Draft, Rejection
from ivr.speech.audio import is_silent, read_wav, resample, trim_silence, write_wav

FOLDER = "drafts"


def classify(audio: bytes, *, max_seconds: float) -> media.PreparedAudio | Rejection:
    """The phone-ready audio, or why this recording cannot be a bulletin."""
    try:
        return media.prepare(audio, max_seconds=max_seconds)
    except InputError:
        pass
    # prepare() says why in words; the caller needs the reason as a value to pick a prompt
    try:
        decoded = read_wav(audio)
    except AudioFormatError:
        return Rejection.UNUSABLE
    phone = resample(decoded, media.PHONE_RATE) if decoded.rate != media.PHONE_RATE else decoded
    if len(phone.samples) == 0 or is_silent(phone):
        return Rejection.SILENT
    if trim_silence(phone).duration_s < media.MIN_SECONDS:
        return Rejection.TOO_SHORT
    return Rejection.UNUSABLE


class DraftStore:
    """Drafts of the calls in progress, by token. Methods do blocking file I/O: call them
    in a thread."""

    def __init__(self, sounds_dir: Path | None, *, max_seconds: float) -> None:
        self._dir = sounds_dir / FOLDER if sounds_dir is not None else None
        self._max_seconds = max_seconds
        self._prepared: dict[str, media.PreparedAudio] = {}

    def make(self, audio: bytes) -> Draft | Rejection:
        found = classify(audio, max_seconds=self._max_seconds)
        if isinstance(found, Rejection):
            return found
        token = secrets.token_hex(8)
        uri = ""
        if self._dir is not None:
            self._dir.mkdir(parents=True, exist_ok=True)
            path = self._dir / f".{token}.tmp"
            write_wav(path, found.audio)
            path.chmod(0o644)  # Asterisk may run as its own user
            path.replace(self._dir / f"{token}.wav")
            uri = f"sound:watchline/{FOLDER}/{token}"
        self._prepared[token] = found
        return Draft(token=token, media=uri, duration_s=found.duration_s)

    def prepared(self, draft: Draft) -> media.PreparedAudio:
        """The phone-ready audio of a draft still held; KeyError once discarded."""
        return self._prepared[draft.token]

    def discard(self, draft: Draft) -> None:
        self._prepared.pop(draft.token, None)
        if self._dir is not None:
            with contextlib.suppress(FileNotFoundError):
                (self._dir / f"{draft.token}.wav").unlink()

    def clear_leftovers(self) -> int:
        """Delete drafts of calls a dead controller left behind (nothing else holds them)."""
        if self._dir is None or not self._dir.is_dir():
            return 0
        held = {f"{t}.wav" for t in self._prepared}
        stale = [p for p in self._dir.iterdir() if p.name not in held]
        for path in stale:
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
        return len(stale)
