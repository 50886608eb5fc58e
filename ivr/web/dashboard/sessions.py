"""Dashboard sessions and CSRF tokens, pure: no I/O, time passed in (tests freeze it).

The scheme:

- A person signs in once with their API token. We then hold a **server-side session**
  (who, which token, when) in memory and give the browser only a random 256-bit session
  id, **signed** with the installation's secret: ``<id>.<HMAC-SHA256(secret, id)>``.
  The id alone is unguessable already; the signature lets us refuse forged or foreign
  cookies without a lookup, and makes cookies of another installation useless here
  (cookies are scoped by host, not port, so two controllers on one host see each other's).
- The API token itself never goes back to the browser and is never kept: only its row id,
  so revoking the token ends the session at the next request.
- Sessions end after ``idle_s`` without a request (8 h: a working shift), or ``max_age_s``
  after sign-in whatever happens (24 h), or at sign-out. They live in memory, so a restart
  of the controller signs everyone out; that is the safe failure for a small dashboard.
- **CSRF**: each session has a token, ``HMAC(secret, "csrf|" + session id)``, put in a
  hidden field of every form and compared in constant time on every POST. It needs no
  storage and dies with the session. The sign-in form, which has no session yet, uses the
  same construction over a random nonce held in a short-lived pre-session cookie.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import secrets
from collections import OrderedDict
from dataclasses import dataclass
from urllib.parse import urlsplit

from ivr.store.models.auth import Role

#: 8 hours without a request ends a session.
IDLE_S = 8 * 3600.0
#: No session outlives a day, however busy.
MAX_AGE_S = 24 * 3600.0
#: Memory bound: past this, the sessions idle longest are dropped first.
MAX_SESSIONS = 10_000
#: Bytes of secret read from (or written to) ``<data_dir>/dashboard-secret``.
SECRET_BYTES = 32


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _mac(secret: bytes, purpose: str, value: str) -> str:
    # The purpose is part of the MAC so a session signature can never pass as a CSRF token
    return _b64(hmac.new(secret, f"{purpose}|{value}".encode(), hashlib.sha256).digest())


def sign(secret: bytes, value: str) -> str:
    """``value.signature``: what the cookie holds."""
    return f"{value}.{_mac(secret, 'session', value)}"


def unsign(secret: bytes, signed: str) -> str | None:
    """The value if its signature is ours; None for anything else (never raises)."""
    value, dot, signature = signed.rpartition(".")
    if not dot or not value or len(signed) > 200:
        return None
    if hmac.compare_digest(signature.encode(), _mac(secret, "session", value).encode()):
        return value
    return None


def csrf_token(secret: bytes, key: str) -> str:
    """The form token for a session id (or a sign-in nonce)."""
    return _mac(secret, "csrf", key)


def csrf_ok(secret: bytes, key: str, submitted: str | None) -> bool:
    if not submitted or not key:
        return False
    return hmac.compare_digest(submitted.encode(), csrf_token(secret, key).encode())


@dataclass
class Session:
    id: str
    token_id: int
    name: str
    role: Role
    #: the ``now`` values (monotonic seconds) of sign-in and of the latest request
    opened_at: float
    seen_at: float


class SessionBook:
    """The live sessions of one controller. Not thread-safe: the event loop owns it."""

    def __init__(
        self,
        secret: bytes,
        *,
        idle_s: float = IDLE_S,
        max_age_s: float = MAX_AGE_S,
        max_sessions: int = MAX_SESSIONS,
    ) -> None:
        if len(secret) < 16:
            raise ValueError("the session secret must be at least 16 bytes")
        self.secret = secret
        self.idle_s = idle_s
        self.max_age_s = max_age_s
        self._max = max_sessions
        # oldest-seen first, so eviction and expiry sweeps look at the front only
        self._live: OrderedDict[str, Session] = OrderedDict()

    def __len__(self) -> int:
        return len(self._live)

    def open(self, token_id: int, name: str, role: Role, now: float) -> tuple[Session, str]:
        """A new session and its cookie value."""
        self._sweep(now)
        session = Session(secrets.token_urlsafe(32), token_id, name, role, now, now)
        self._live[session.id] = session
        while len(self._live) > self._max:
            self._live.popitem(last=False)
        return session, sign(self.secret, session.id)

    def find(self, cookie: str | None, now: float) -> Session | None:
        """The live session of a cookie, marked as seen now; None if forged or expired."""
        session_id = unsign(self.secret, cookie) if cookie else None
        if session_id is None:
            return None
        session = self._live.get(session_id)
        if session is None:
            return None
        if self._expired(session, now):
            del self._live[session_id]
            return None
        session.seen_at = now
        self._live.move_to_end(session_id)
        return session

    def close(self, session_id: str) -> None:
        self._live.pop(session_id, None)

    def close_token(self, token_id: int) -> int:
        """End every session of a token (it was revoked); how many there were."""
        gone = [sid for sid, s in self._live.items() if s.token_id == token_id]
        for sid in gone:
            del self._live[sid]
        return len(gone)

    def csrf(self, session: Session) -> str:
        return csrf_token(self.secret, session.id)

    def _expired(self, session: Session, now: float) -> bool:
        return now - session.seen_at >= self.idle_s or now - session.opened_at >= self.max_age_s

    def _sweep(self, now: float) -> None:
        # the front is the longest idle; stop at the first live one (absolute expiry is
        # caught by find() for the rest)
        while self._live:
            oldest = next(iter(self._live.values()))
            if not self._expired(oldest, now):
                return
            del self._live[oldest.id]


# ---- transport: when a cookie may be Secure, and whether a request is same-origin ---------


def is_loopback(host: str) -> bool:
    """``localhost``, 127.0.0.0/8 or ::1: a bare address (a peer) or a Host header (with
    port, IPv6 in brackets)."""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        pass
    try:
        name = urlsplit(f"//{host}").hostname or ""
    except ValueError:  # e.g. an unbalanced bracket
        return False
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def effective_scheme(scheme: str, remote: str | None, forwarded_proto: str | None) -> str:
    """The scheme the browser used. ``X-Forwarded-Proto`` is believed only from a peer on
    loopback (a TLS proxy on the same machine); from anywhere else it could be forged."""
    if forwarded_proto and remote and is_loopback(remote):
        proto = forwarded_proto.split(",")[0].strip().lower()
        if proto in ("http", "https"):
            return proto
    return scheme


@dataclass(frozen=True)
class Transport:
    """How cookies are set for one request's transport."""

    #: send the cookie with ``Secure`` (and the ``__Host-`` name prefix)
    secure: bool
    #: signing in is allowed: https, or plain http to a loopback address only
    sign_in_allowed: bool

    @property
    def cookie_name(self) -> str:
        # __Host-: the browser refuses it unless Secure, Path=/ and no Domain; a sibling
        # subdomain can then never plant a session cookie for us
        return "__Host-watchline-session" if self.secure else "watchline-session"

    @property
    def signin_cookie_name(self) -> str:
        return "__Host-watchline-signin" if self.secure else "watchline-signin"


def transport(scheme: str, host: str) -> Transport:
    """Cookies are Secure except on plain http to loopback (``ivr serve`` on 127.0.0.1,
    where there is no TLS and nothing leaves the machine). Plain http to any other address
    would send the token and the cookie in clear text, so signing in there is refused."""
    if scheme == "https":
        return Transport(secure=True, sign_in_allowed=True)
    local = is_loopback(host)
    return Transport(secure=False, sign_in_allowed=local)


def same_origin(origin: str | None, scheme: str, host: str) -> bool:
    """A POST's ``Origin`` header, when the browser sent one, must be this site.

    A second line of defence behind the CSRF token and SameSite=Strict; an absent header
    (older browsers, some privacy settings) is left to the token.
    """
    if origin is None:
        return True
    return origin.lower() == f"{scheme}://{host}".lower()


def safe_next(target: str | None, default: str) -> str:
    """Where to go after sign-in: only a path of this dashboard, never another site
    (``//evil.example`` and ``/\\evil`` are protocol-relative URLs to a browser)."""
    if (
        not target
        or not target.startswith("/dashboard")
        or target.startswith(("//", "/\\"))
        or "\\" in target
        or any(ord(c) < 0x20 for c in target)
    ):
        return default
    return target
