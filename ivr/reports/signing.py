"""Signing webhook bodies: HMAC-SHA256 over the timestamp and the exact body bytes.

Every delivery carries::

    Idempotency-Key: 4071229833
    X-Watchline-Signature: t=1735689600,v1=5257a869e7ec...(64 hex digits)

``v1`` is the lower-case hex HMAC-SHA256, keyed with ``reports.backend_secret`` (its UTF-8
bytes), of ``<t>.`` followed by the raw request body; ``t`` is the Unix time of signing.
A receiver recomputes it over the body exactly as received (before any JSON parsing),
compares in constant time, and rejects a ``t`` too far from its own clock, so a captured
request cannot be replayed later. The scheme is Stripe's, so receivers can reuse known
code; the header may carry several ``v1=`` values during a key rotation.

The ``Idempotency-Key`` is the report's reference: delivery is at least once, so a
receiver that sees a key again answers 2xx and ignores the repeat.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Final

SIGNATURE_HEADER: Final = "X-Watchline-Signature"
IDEMPOTENCY_HEADER: Final = "Idempotency-Key"
#: How far from the receiver's clock a signature's timestamp may be.
DEFAULT_TOLERANCE_S: Final = 300


def _mac(secret: str, timestamp: int, body: bytes) -> str:
    message = f"{timestamp}.".encode() + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def sign(secret: str, body: bytes, timestamp: int) -> str:
    """The ``X-Watchline-Signature`` header value for ``body`` signed at ``timestamp``."""
    if not secret:
        raise ValueError("cannot sign with an empty secret")
    return f"t={timestamp},v1={_mac(secret, timestamp, body)}"


def verify(
    secret: str,
    header: str,
    body: bytes,
    *,
    now: int,
    tolerance_s: int = DEFAULT_TOLERANCE_S,
) -> bool:
    """True if ``header`` is a valid signature of ``body`` made within ``tolerance_s``."""
    timestamp: int | None = None
    candidates: list[str] = []
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t" and value.isdigit():
            timestamp = int(value)
        elif key == "v1" and value:
            candidates.append(value)
    if timestamp is None or not candidates or abs(now - timestamp) > tolerance_s:
        return False
    expected = _mac(secret, timestamp, body)
    # check every candidate so the time taken does not depend on which one matched
    matches = [hmac.compare_digest(expected, c) for c in candidates]
    return any(matches)
