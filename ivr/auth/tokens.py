"""API tokens: 256-bit random secrets shown once; the store keeps only their SHA-256.

A fast hash is right here (unlike PINs): a token has 256 bits of entropy, so no
dictionary or brute force can reverse its digest, and every API request checks one.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ivr.errors import AuthError
from ivr.store.models.auth import ApiToken, Role

PREFIX = "wl_"


def new_token() -> str:
    return PREFIX + secrets.token_urlsafe(32)


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def create_token(session: AsyncSession, *, name: str, role: Role, now: datetime) -> str:
    """Store a new token and return it; this is the only time it is ever seen."""
    token = new_token()
    session.add(
        ApiToken(
            name=name, role=role, token_hash=token_digest(token), prefix=token[:10],
            created_at=now,
        )
    )  # fmt: skip
    await session.flush()
    return token


async def authenticate(session: AsyncSession, token: str, *, now: datetime) -> ApiToken:
    """The live token this secret belongs to; AuthError otherwise (no detail on purpose)."""
    if not token.startswith(PREFIX) or len(token) > 200:
        raise AuthError("invalid token")
    digest = token_digest(token)
    row = await session.scalar(select(ApiToken).where(ApiToken.token_hash == digest))
    # compare_digest: the lookup is by digest already, but keep the final check constant-time
    if row is None or not hmac.compare_digest(row.token_hash, digest) or row.revoked_at:
        raise AuthError("invalid token")
    row.last_used_at = now
    return row


async def revoke(session: AsyncSession, token_id: int, *, now: datetime) -> None:
    row = await session.get(ApiToken, token_id)
    if row is None:
        raise AuthError(f"no token {token_id}")
    row.revoked_at = now
