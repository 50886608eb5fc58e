"""The one exception tree of Watchline.

Foreign exceptions (OSError, aiohttp errors, SQLAlchemy errors...) are converted at the
boundary of the module that met them, so callers only ever catch these.

    WatchlineError
    ├── ConfigError                      bad or missing configuration (at start-up, never mid-call)
    ├── SandboxError(step, log_file)     the Asterisk sandbox could not be provisioned or booted
    │   ├── ProvisionError
    │   └── BootError
    ├── TelephonyError
    │   ├── AmiError
    │   │   ├── AmiConnectionError       retryable: the client reconnects by itself
    │   │   ├── AmiAuthError
    │   │   ├── AmiProtocolError         a frame we could not parse (logged, never fatal)
    │   │   └── AmiActionError(response) Asterisk answered Response: Error
    │   └── AriError
    │       ├── AriConnectionError       retryable
    │       └── AriRequestError(status, reason)
    ├── SpeechError
    │   ├── AudioFormatError             empty, truncated, not audio, wrong rate...
    │   ├── ModelLoadError               a speech model that cannot be loaded (at start-up)
    │   ├── TtsEngineUnavailable         an engine that cannot run here (gTTS offline...)
    │   └── TranscriptionError
    ├── InputError                       bad input from a user; carries a readable reason
    │   ├── InvalidPhoneNumber(number)
    │   ├── CsvImportError(problems)
    │   └── FaxInputError (ivr/fax/errors.py): EmptyBulletinText, TooManyPages,
    │       LogoNotFound, LogoUnreadable
    ├── NotFound
    │   ├── MemberNotFound(member_id)
    │   ├── GroupNotFound(name)
    │   ├── CampaignNotFound(campaign_id)
    │   ├── BulletinNotFound(bulletin_id)
    │   ├── ReportNotFound(reference)
    │   └── CoordinatorNotFound(coordinator_id)
    ├── ConflictError                    the action does not fit the object's state
    ├── StorageError                     the database failed (retryable when locked/disconnected)
    └── AuthError                        bad token/PIN, or locked out
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path


class WatchlineError(Exception):
    """Base of every error Watchline raises on purpose."""

    #: True when trying the same thing again later may succeed.
    retryable: bool = False


class ConfigError(WatchlineError):
    pass


class SandboxError(WatchlineError):
    """The sandbox failed at a named step; ``log_file`` says where to look."""

    def __init__(self, step: str, detail: str, log_file: Path | None = None) -> None:
        self.step = step
        self.detail = detail
        self.log_file = log_file
        where = f" (log: {log_file})" if log_file else ""
        super().__init__(f"asterisk sandbox: {step} failed: {detail}{where}")


class ProvisionError(SandboxError):
    pass


class BootError(SandboxError):
    pass


class TelephonyError(WatchlineError):
    pass


class AmiError(TelephonyError):
    pass


class AmiConnectionError(AmiError):
    retryable = True


class AmiAuthError(AmiError):
    pass


class AmiProtocolError(AmiError):
    pass


class AmiActionError(AmiError):
    def __init__(self, action: str, message: str, response: dict[str, str] | None = None) -> None:
        self.action = action
        self.message = message
        self.response = response or {}
        super().__init__(f"AMI {action} failed: {message}")


class AriError(TelephonyError):
    pass


class AriConnectionError(AriError):
    retryable = True


class AriRequestError(AriError):
    def __init__(self, method: str, path: str, status: int, reason: str) -> None:
        self.method = method
        self.path = path
        self.status = status
        self.reason = reason
        super().__init__(f"ARI {method} {path} -> {status}: {reason}")

    @property
    def not_found(self) -> bool:
        return self.status == 404


class SpeechError(WatchlineError):
    pass


class AudioFormatError(SpeechError):
    pass


class ModelLoadError(SpeechError):
    pass


class TtsEngineUnavailable(SpeechError):
    pass


class TranscriptionError(SpeechError):
    retryable = True


class InputError(WatchlineError):
    pass


class InvalidPhoneNumber(InputError):
    def __init__(self, number: str, reason: str = "not a valid phone number") -> None:
        self.number = number
        self.reason = reason
        super().__init__(f"{number!r}: {reason}")


class CsvImportError(InputError):
    """Every problem found in a file, each as (line number, reason)."""

    def __init__(self, problems: Sequence[tuple[int, str]]) -> None:
        self.problems = list(problems)
        lines = "\n".join(f"  line {n}: {why}" for n, why in self.problems)
        super().__init__(f"{len(self.problems)} invalid row(s):\n{lines}")


class NotFound(WatchlineError):
    pass


class MemberNotFound(NotFound):
    def __init__(self, member_id: int | str) -> None:
        self.member_id = member_id
        super().__init__(f"member {member_id} not found")


class GroupNotFound(NotFound):
    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__(f"group {name!r} not found")


class CampaignNotFound(NotFound):
    def __init__(self, campaign_id: int | str) -> None:
        self.campaign_id = campaign_id
        super().__init__(f"campaign {campaign_id} not found")


class BulletinNotFound(NotFound):
    def __init__(self, bulletin_id: int | str) -> None:
        self.bulletin_id = bulletin_id
        super().__init__(f"bulletin {bulletin_id} not found")


class ReportNotFound(NotFound):
    def __init__(self, reference: str) -> None:
        self.reference = reference
        super().__init__(f"report {reference} not found")


class ConflictError(WatchlineError):
    pass


class StorageError(WatchlineError):
    """The database failed. ``retryable`` when it was locked or the connection dropped."""

    def __init__(self, message: str, *, retryable: bool = False) -> None:
        self.retryable = retryable
        super().__init__(message)


class AuthError(WatchlineError):
    pass


class CoordinatorNotFound(NotFound):
    def __init__(self, coordinator_id: int | str) -> None:
        self.coordinator_id = coordinator_id
        super().__init__(f"coordinator {coordinator_id} not found")
