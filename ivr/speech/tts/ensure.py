"""Make sure Asterisk has every prompt: build what changed (cached), then install.

Called by ``ivr prompts build`` and at controller start-up. A warm rebuild synthesizes
nothing and takes a fraction of a second; a cold one takes about 30 s with Piper.
"""

from __future__ import annotations

import logging
from pathlib import Path

from ivr.config import SpeechSettings
from ivr.errors import ConfigError
from ivr.file_lock import exclusive
from ivr.speech.prompts import Catalogue, lint, load_catalogue
from ivr.speech.tts.build import BuildResult, build_prompts, install_prompts
from ivr.speech.tts.engine import EngineChain, TtsSettings, make_chain

log = logging.getLogger(__name__)


def tts_settings(speech: SpeechSettings) -> TtsSettings:
    return TtsSettings(engines=speech.tts_engines, piper_length_scale=speech.piper_length_scale)


def engine_chain(speech: SpeechSettings) -> EngineChain:
    return make_chain(tts_settings(speech))


def checked_catalogue() -> Catalogue:
    catalogue = load_catalogue()
    problems = lint(catalogue)
    if problems:
        listing = "\n".join(f"  {p}" for p in problems)
        raise ConfigError(f"the prompt catalogue has problems:\n{listing}")
    return catalogue


def ensure_prompts(
    speech: SpeechSettings, sounds_dir: Path | None, *, progress: bool = False
) -> BuildResult:
    """Build the catalogue into the cache and, if given, install it into ``sounds_dir``.

    The cache is shared by every process on the machine (``make test`` runs two), so the
    build is locked: on a cold cache a second process waits about 25 s for the first to
    synthesize the catalogue, then finds it all cached, instead of synthesizing it again
    on the same two cores.
    """
    catalogue = checked_catalogue()
    out = speech.prompts_build_dir / "watchline"
    with exclusive(speech.prompts_build_dir / "build.lock"):
        result = build_prompts(catalogue, out, engine_chain(speech), progress=progress)
        if sounds_dir is not None:
            install_prompts(out, sounds_dir)
    return result
