"""Bad fax input, refused before any call is placed.

Each is an :class:`ivr.errors.InputError` (so the web layer shows its message to the user as
it shows every other input problem) and carries the offending value::

    InputError
    └── FaxInputError(reason)
        ├── EmptyBulletinText
        ├── TooManyPages(needed, limit)
        ├── LogoNotFound(path)
        └── LogoUnreadable(path, detail)
"""

from __future__ import annotations

from pathlib import Path

from ivr.errors import InputError


class FaxInputError(InputError):
    """A bulletin that cannot be rendered as a fax; ``reason`` is readable by a coordinator."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


class EmptyBulletinText(FaxInputError):
    def __init__(self) -> None:
        super().__init__("the bulletin has no text to fax")


class TooManyPages(FaxInputError):
    def __init__(self, needed: int, limit: int) -> None:
        self.needed = needed
        self.limit = limit
        super().__init__(
            f"the bulletin needs {needed} fax pages; the limit is {limit} "
            "(shorten the text or raise fax.max_pages)"
        )


class LogoNotFound(FaxInputError):
    def __init__(self, path: Path) -> None:
        self.path = path
        super().__init__(f"logo file not found: {path}")


class LogoUnreadable(FaxInputError):
    def __init__(self, path: Path, detail: str) -> None:
        self.path = path
        self.detail = detail
        super().__init__(f"logo file {path} is not a readable PNG or JPEG image: {detail}")
