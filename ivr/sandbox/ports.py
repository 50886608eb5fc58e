"""Port blocks for sandboxes, so two test sessions on one machine never collide.

Each sandbox takes a *slot*: an exclusive ``flock`` on ``<cache_dir>/slots/<n>.lock``.
Slot ``n`` owns ports ``BASE + n*BLOCK`` .. ``+BLOCK-1``: SIP, AMI and HTTP at fixed offsets,
the rest for RTP and UDPTL. The lock file descriptor is inherited by the Asterisk process,
so the slot stays taken exactly as long as either the owner or its Asterisk lives — a
killed test run frees it without any clean-up. Ports are also probed before use, in case a
foreign program sits in the block.

The block sits below Linux's ephemeral range (32768+) so rig phones' auto-chosen ports
cannot land in it.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import socket
from dataclasses import dataclass
from pathlib import Path

BASE = 10000
BLOCK = 400
SLOTS = 50
_TOOLS_OFFSET = 3
_RTP_OFFSET = 100
_UDPTL_OFFSET = 340


@dataclass(frozen=True)
class PortBlock:
    slot: int
    sip: int
    ami: int
    http: int
    rtp_start: int
    rtp_end: int
    udptl_start: int
    udptl_end: int
    #: Ports nothing in the sandbox uses: test tools (SIPp...) of this slot's owner take
    #: theirs here, so they cannot race another session for an ephemeral port.
    tools_start: int = 0
    tools_end: int = 0

    @classmethod
    def for_slot(cls, slot: int) -> PortBlock:
        base = BASE + slot * BLOCK
        return cls(
            slot=slot,
            sip=base,
            ami=base + 1,
            http=base + 2,
            rtp_start=base + _RTP_OFFSET,
            rtp_end=base + _UDPTL_OFFSET - 1,
            udptl_start=base + _UDPTL_OFFSET,
            udptl_end=base + BLOCK - 1,
            tools_start=base + _TOOLS_OFFSET,
            tools_end=base + _RTP_OFFSET - 1,
        )


@dataclass
class SlotLease:
    """A held slot. ``fd`` must be passed to Asterisk (``pass_fds``) to share the lock."""

    ports: PortBlock
    fd: int
    lock_path: Path

    def release(self) -> None:
        if self.fd >= 0:
            with contextlib.suppress(OSError):
                os.close(self.fd)
            self.fd = -1


def _free(host: str, port: int, kind: socket.SocketKind) -> bool:
    with socket.socket(socket.AF_INET, kind) as s:
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def ports_free(block: PortBlock, host: str = "127.0.0.1") -> bool:
    return (
        _free(host, block.sip, socket.SOCK_DGRAM)
        and _free(host, block.ami, socket.SOCK_STREAM)
        and _free(host, block.http, socket.SOCK_STREAM)
        and _free(host, block.rtp_start, socket.SOCK_DGRAM)
    )


def lease_slot(cache_dir: Path, *, prefer: int | None = None, host: str = "127.0.0.1") -> SlotLease:
    """Take the first free slot (or ``prefer`` if given and free). Raises OSError if none."""
    slots_dir = cache_dir / "slots"
    slots_dir.mkdir(parents=True, exist_ok=True)
    order = list(range(SLOTS))
    if prefer is not None:
        order.remove(prefer)
        order.insert(0, prefer)
    for slot in order:
        path = slots_dir / f"{slot}.lock"
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            continue
        block = PortBlock.for_slot(slot)
        if not ports_free(block, host):
            os.close(fd)
            continue
        os.set_inheritable(fd, True)
        return SlotLease(block, fd, path)
    raise OSError(f"no free sandbox slot among {SLOTS} (ports {BASE}-{BASE + SLOTS * BLOCK})")
