"""Google Translate TTS through gTTS: only where the internet is reachable.

gTTS offline fails only after its own HTTP timeouts, with ``gTTSError: Failed to connect``.
A short TCP connect to the service first turns "offline" into a quick, clear
TtsEngineUnavailable, so the builder falls back to the next engine without stalling. The
probe runs once per engine instance: a build either has the network or it does not.
"""

from __future__ import annotations

import importlib.metadata
import io
import socket

import numpy as np
import numpy.typing as npt

from ivr.errors import AudioFormatError, SpeechError, TtsEngineUnavailable
from ivr.speech.audio import Audio

#: Per request, once the probe has passed; gTTS's own default is to wait forever.
REQUEST_TIMEOUT_S = 15.0


class GttsEngine:
    """gTTS (MP3 from Google), decoded with PyAV at its native rate."""

    name = "gtts"

    def __init__(
        self,
        *,
        lang: str = "en",
        tld: str = "co.uk",
        probe_host: str | None = None,
        probe_port: int = 443,
        probe_timeout_s: float = 2.0,
    ) -> None:
        self.lang = lang
        self.tld = tld
        self.probe_host = probe_host or f"translate.google.{tld}"
        self.probe_port = probe_port
        self.probe_timeout_s = probe_timeout_s
        self._probe_error: str | None = None
        self._probed = False

    def cache_key_parts(self) -> tuple[str, ...]:
        try:
            version = importlib.metadata.version("gTTS")
        except importlib.metadata.PackageNotFoundError:
            version = "absent"
        return ("gtts", version, self.lang, self.tld)

    def probe(self) -> str | None:
        """None when the service answers a TCP connect; otherwise why not. Cached."""
        if not self._probed:
            self._probed = True
            address = (self.probe_host, self.probe_port)
            try:
                with socket.create_connection(address, timeout=self.probe_timeout_s):
                    pass
            except OSError as e:  # refused, unreachable, DNS failure and timeout alike
                self._probe_error = f"{e.__class__.__name__}: {e}"
        return self._probe_error

    def synthesize(self, text: str) -> Audio:
        if not text.strip():
            raise SpeechError("nothing to synthesize: empty text")
        reason = self.probe()
        if reason is not None:
            raise TtsEngineUnavailable(
                f"gTTS needs the internet and {self.probe_host}:{self.probe_port} "
                f"is not reachable ({reason})"
            )
        try:
            from gtts import gTTS, gTTSError
        except ImportError as e:
            raise TtsEngineUnavailable("the gTTS package is not installed") from e
        mp3 = io.BytesIO()
        try:
            gTTS(text, tld=self.tld, lang=self.lang, timeout=REQUEST_TIMEOUT_S).write_to_fp(mp3)
        except gTTSError as e:
            # Reachable a moment ago but failing now (rate limit, outage): treat as offline.
            self._probe_error = str(e)
            raise TtsEngineUnavailable(f"gTTS failed: {e}") from e
        return decode_mp3(mp3.getvalue())


def decode_mp3(data: bytes) -> Audio:
    """MP3 bytes to mono Audio at the file's own rate (resampling is the builder's job)."""
    import av  # PyAV comes with faster-whisper

    chunks: list[npt.NDArray[np.float64]] = []
    rate = 0
    try:
        with av.open(io.BytesIO(data), mode="r", format="mp3") as container:
            for frame in container.decode(audio=0):
                rate = frame.sample_rate
                samples = frame.to_ndarray().astype(np.float64)
                if frame.format.name.startswith("s16"):
                    samples /= 32768.0
                if frame.format.is_planar:
                    chunks.append(samples.mean(axis=0))
                else:  # interleaved: one row of channel-interleaved samples
                    channels = len(frame.layout.channels)
                    chunks.append(samples.reshape(-1, channels).mean(axis=1))
    except av.error.FFmpegError as e:
        raise AudioFormatError(f"gTTS returned audio that cannot be decoded: {e}") from e
    if not chunks or rate <= 0:
        raise AudioFormatError("gTTS returned no audio")
    return Audio.from_float(np.concatenate(chunks), rate)
