"""PINs: what a usable one looks like, and argon2id hashing.

A 4 to 8 digit PIN has little entropy, so the hash must be slow (argon2id, memory-hard) and
the lockout (``lockout.py``) does the rest. Neither a PIN nor its digits are ever logged or
stored; only the PHC hash string is.
"""

from __future__ import annotations

import asyncio

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from ivr.errors import InputError

MIN_DIGITS = 4
MAX_DIGITS = 8
_RUNS = "0123456789012345678"


def check_pin(pin: str) -> None:
    """InputError with a reason a coordinator can act on (the PIN is never repeated in it)."""
    if not pin.isdigit() or not pin.isascii():
        raise InputError("a PIN is digits only (keyed on a phone)")
    if not MIN_DIGITS <= len(pin) <= MAX_DIGITS:
        raise InputError(f"a PIN has {MIN_DIGITS} to {MAX_DIGITS} digits")
    if len(set(pin)) == 1:
        raise InputError("a PIN of one digit repeated is too easy to guess")
    if pin in _RUNS or pin in _RUNS[::-1]:
        raise InputError("a PIN of consecutive digits is too easy to guess")


class PinHasher:
    """argon2id with the library's RFC 9106 low-memory profile (64 MiB, about 50 ms here).

    Hashing and verifying run in a thread: 50 ms of CPU must not stall other callers.
    """

    def __init__(self, hasher: PasswordHasher | None = None) -> None:
        self.hasher = hasher or PasswordHasher()

    def hash(self, pin: str) -> str:
        check_pin(pin)
        return self.hasher.hash(pin)

    def verify(self, pin_hash: str, pin: str) -> bool:
        try:
            return self.hasher.verify(pin_hash, pin)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    async def hash_async(self, pin: str) -> str:
        return await asyncio.to_thread(self.hash, pin)

    async def verify_async(self, pin_hash: str, pin: str) -> bool:
        return await asyncio.to_thread(self.verify, pin_hash, pin)
