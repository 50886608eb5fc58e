"""Bulletins from the web: typed text voiced with the TTS engine, and transcript approval.

A typed bulletin is spoken by the same engine as the prompts (Piper by default), made
phone-ready like any other bulletin audio, and stored with its text as an approved
transcript: the coordinator wrote it, so there is nothing to recognise or approve.

A recorded bulletin's transcript comes from speech recognition and is not approved until
someone with the coordinator role reads it (``show``), corrects it if needed and approves it
through the campaigns API (``PUT /api/bulletins/{id}/text``, ``POST .../approve``). Fax
members (and later text channels) receive only approved transcripts.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ivr.bulletin_line import publish
from ivr.bulletins import media
from ivr.clock import Clock
from ivr.errors import BulletinNotFound, ConflictError, InputError
from ivr.speech.audio import wav_bytes
from ivr.speech.tts.engine import EngineChain
from ivr.store import coordinators_repo as repo
from ivr.store.database import Database
from ivr.store.models import Bulletin

log = logging.getLogger(__name__)

#: About four minutes of speech: a bulletin, not a newsletter.
MAX_TEXT_CHARS = 3000


def bulletin_view(b: Bulletin, transcription_state: str | None) -> dict[str, Any]:
    return {
        "id": b.id, "title": b.title, "urgent": b.urgent, "created_by": b.created_by,
        "created_at": b.created_at.isoformat(), "transcript": b.transcript,
        "transcript_approved": b.transcript_approved,
        #: pending / done / failed, or None when no recognition was asked for
        "transcription": transcription_state,
    }  # fmt: skip


@dataclass(frozen=True)
class TextBulletin:
    title: str
    text: str
    urgent: bool = False


class BulletinDesk:
    def __init__(
        self, db: Database, clock: Clock, *, data_dir: Path, sounds_dir: Path | None,
        tts: EngineChain | None,
    ) -> None:  # fmt: skip
        self.db = db
        self.clock = clock
        self.data_dir = data_dir
        self.sounds_dir = sounds_dir
        self.tts = tts

    def _voice(self, text: str) -> media.PreparedAudio:
        if self.tts is None:
            raise ConflictError("no speech synthesis is configured")
        engine, audio = self.tts.synthesize(text)
        log.info("bulletin text voiced by %s (%.1f s)", engine.name, audio.duration_s)
        return media.prepare(wav_bytes(audio))

    async def from_text(self, new: TextBulletin, *, created_by: str) -> int:
        """Voice ``new.text`` and store it as a bulletin; InputError for empty or long text."""
        text = " ".join(new.text.split())
        if not text:
            raise InputError("the bulletin text is empty")
        if len(text) > MAX_TEXT_CHARS:
            raise InputError(f"the bulletin text is over {MAX_TEXT_CHARS} characters")
        if not new.title.strip():
            raise InputError("a bulletin needs a title")
        prepared = await asyncio.to_thread(self._voice, text)  # before any write
        spec = publish.NewBulletin(
            title=new.title, created_by=created_by, urgent=new.urgent, transcript=text,
            transcript_approved=True, transcribe=False,
        )  # fmt: skip
        async with self.db.session(write=True) as s:
            bulletin = await publish.create_bulletin(
                s, prepared, spec, data_dir=self.data_dir, now=self.clock.now()
            )
        if self.sounds_dir is not None:
            await asyncio.to_thread(
                media.install, Path(bulletin.audio_path), self.sounds_dir, bulletin.id
            )
        return bulletin.id

    async def show(self, bulletin_id: int) -> dict[str, Any]:
        async with self.db.session() as s:
            bulletin = await s.get(Bulletin, bulletin_id)
            if bulletin is None:
                raise BulletinNotFound(bulletin_id)
            job = await repo.latest_transcription(s, bulletin_id)
        return bulletin_view(bulletin, job.state.value if job else None)

    async def request_transcription(self, bulletin_id: int) -> None:
        """Queue speech recognition of a bulletin (one uploaded through the API, say)."""
        async with self.db.session(write=True) as s:
            if await s.get(Bulletin, bulletin_id) is None:
                raise BulletinNotFound(bulletin_id)
            await repo.request_transcription(s, bulletin_id, now=self.clock.now())
