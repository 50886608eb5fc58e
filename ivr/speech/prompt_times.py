"""How long built prompts play: simulated callers time their keys and speech with it."""

from __future__ import annotations

from pathlib import Path

from ivr.speech.audio import read_wav


class PromptTimes:
    """Lengths of the built prompts (the WAVs Asterisk plays), in seconds."""

    def __init__(self, prompts_dir: Path) -> None:
        self._dir = prompts_dir
        self._cache: dict[str, float] = {}

    def __call__(self, *ids: str) -> float:
        total = 0.0
        for prompt_id in ids:
            if prompt_id not in self._cache:
                self._cache[prompt_id] = read_wav(self._dir / f"{prompt_id}.wav").duration_s
            total += self._cache[prompt_id]
        return total
