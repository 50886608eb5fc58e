"""espeak-ng, the fallback engine: always installed, no model, but barely intelligible at 8 kHz
(43 % read-back WER against Piper's 5 %). Used only when Piper cannot run.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

from ivr.errors import SpeechError, TtsEngineUnavailable
from ivr.speech.audio import Audio, read_wav

#: A prompt takes espeak-ng well under a second; a hung process must not stall a build.
TIMEOUT_S = 30.0


class EspeakEngine:
    """espeak-ng run as a subprocess, at a slower rate than its default."""

    name = "espeak"

    def __init__(
        self, binary: str = "espeak-ng", *, voice: str = "en-gb", words_per_minute: int = 135
    ) -> None:
        self.binary = binary
        self.voice = voice
        self.words_per_minute = words_per_minute

    def cache_key_parts(self) -> tuple[str, ...]:
        return ("espeak-ng", self.voice, f"wpm={self.words_per_minute}")

    def synthesize(self, text: str) -> Audio:
        if not text.strip():
            raise SpeechError("nothing to synthesize: empty text")
        exe = shutil.which(self.binary)
        if exe is None:
            raise TtsEngineUnavailable(f"{self.binary} is not installed (apt install espeak-ng)")
        # -w to a file rather than --stdout: on a pipe espeak-ng cannot seek back to fill in
        # the WAV sizes and leaves 0x7fff... in the header. Text goes in on stdin so a prompt
        # starting with "-" is never taken for an option.
        with tempfile.TemporaryDirectory(prefix="watchline-espeak-") as tmp:
            out = Path(tmp) / "out.wav"
            cmd = [exe, "-v", self.voice, "-s", str(self.words_per_minute), "-w", str(out)]
            try:
                subprocess.run(
                    [*cmd, "--stdin"],
                    input=text.encode("utf-8"),
                    capture_output=True,
                    timeout=TIMEOUT_S,
                    check=True,
                )
            except subprocess.TimeoutExpired as e:
                raise SpeechError(f"espeak-ng took longer than {TIMEOUT_S:.0f} s") from e
            except subprocess.CalledProcessError as e:
                err = e.stderr.decode("utf-8", "replace").strip()
                raise SpeechError(f"espeak-ng failed (exit {e.returncode}): {err}") from e
            except OSError as e:
                raise TtsEngineUnavailable(f"cannot run {exe}: {e.strerror or e}") from e
            return read_wav(out)
