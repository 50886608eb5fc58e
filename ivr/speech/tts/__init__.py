"""Text to speech: engines behind one small port, and the prompt builder.

``engine`` holds the port (:class:`TtsEngine`), the settings and the fallback chain;
``piper``, ``espeak`` and ``gtts`` are the engines (best first); ``build`` renders the
catalogue to 8 kHz prompts with a cache and installs them for Asterisk.
"""

from ivr.speech.tts.build import (
    BuildResult,
    InstallResult,
    RenderSettings,
    build_prompts,
    install_prompts,
    render_phrase,
)
from ivr.speech.tts.engine import EngineChain, TtsEngine, TtsSettings, make_chain, make_engine

__all__ = [
    "BuildResult",
    "EngineChain",
    "InstallResult",
    "RenderSettings",
    "TtsEngine",
    "TtsSettings",
    "build_prompts",
    "install_prompts",
    "make_chain",
    "make_engine",
    "render_phrase",
]
