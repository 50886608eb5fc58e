"""Where the rig may send SIP: loopback only, checked before any packet leaves.

Pure functions: parse ``HOST:PORT``, and turn a call target (an extension at the registrar,
or a direct ``sip:user@127.0.0.1:port`` URI) into the Request-URI a phone dials.
"""

from __future__ import annotations

import re

from sip_test_rig.errors import ScriptError

LOOPBACK = "127.0.0.1"
_LOOPBACK_NAMES = {"127.0.0.1": LOOPBACK, "localhost": LOOPBACK}
_EXTENSION = re.compile(r"[A-Za-z0-9*#+._-]{1,64}")
_SIP_URI = re.compile(
    r"sip:(?:(?P<user>[^@;:]+)@)?(?P<host>[^:;>]+)(?::(?P<port>\d{1,5}))?(?P<rest>;.*)?"
)


def loopback_host(host: str) -> str:
    """``host`` as the loopback address; anything that is not loopback is refused.

    ``localhost`` becomes ``127.0.0.1`` so that no name lookup happens on a call path.
    """
    try:
        return _LOOPBACK_NAMES[host.strip().lower()]
    except KeyError:
        raise ScriptError(f"the SIP test rig only talks to 127.0.0.1, not {host!r}") from None


def _port(text: str, where: str) -> int:
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise ScriptError(f"{where}: port must be 1..65535, got {text!r}")
    return int(text)


def parse_hostport(text: str) -> tuple[str, int]:
    """Parse ``127.0.0.1:5060`` (the CLI's ``--registrar``) into a loopback host and port."""
    host, colon, port = text.strip().rpartition(":")
    if not colon or not host:
        raise ScriptError(f"expected HOST:PORT, e.g. 127.0.0.1:5060, got {text!r}")
    return loopback_host(host), _port(port, text)


def target_uri(to: str, registrar: tuple[str, int] | None) -> str:
    """The SIP URI a phone dials for ``to``.

    An extension (``9001``) is dialled at the registrar; a ``sip:`` URI is dialled as given
    (used to call rig phones directly, without Asterisk) but must point at loopback.
    """
    if to.startswith("sip:"):
        m = _SIP_URI.fullmatch(to)
        if m is None:
            raise ScriptError(f"cannot read SIP URI {to!r}")
        host = loopback_host(m["host"])
        user = f"{m['user']}@" if m["user"] else ""
        port = f":{_port(m['port'], to)}" if m["port"] else ""
        return f"sip:{user}{host}{port}{m['rest'] or ''}"
    if to.startswith("sips:"):
        raise ScriptError(f"TLS (sips:) is not supported by the rig: {to!r}")
    if not _EXTENSION.fullmatch(to):
        raise ScriptError(f"{to!r} is neither an extension nor a sip: URI")
    if registrar is None:
        raise ScriptError(f"cannot dial extension {to!r}: this phone has no registrar")
    registrar_host, registrar_port = registrar
    return f"sip:{to}@{loopback_host(registrar_host)}:{registrar_port}"
