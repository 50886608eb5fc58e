"""Wait until a freshly started Asterisk reports ``FullyBooted`` on AMI.

Separate from :mod:`ivr.ami.client` on purpose: at boot the port is not open yet, and we
must also notice the process dying. Asterisk sends ``FullyBooted`` right after a login when
boot is complete, so we log in repeatedly until it arrives.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable


class ProcessExited(Exception):
    pass


async def _try_once(host: str, port: int, user: str, secret: str, wait_s: float) -> bool:
    reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), wait_s)
    try:
        login = f"Action: Login\r\nUsername: {user}\r\nSecret: {secret}\r\nEvents: system\r\n\r\n"
        writer.write(login.encode())
        await writer.drain()
        end = time.monotonic() + wait_s
        while (left := end - time.monotonic()) > 0:
            line = await asyncio.wait_for(reader.readline(), left)
            if not line:
                return False
            text = line.decode(errors="replace").strip()
            if text == "Event: FullyBooted":
                return True
            if text == "Message: Authentication failed":
                raise PermissionError("AMI rejected the sandbox's own credentials")
        return False
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()


async def wait_fully_booted(
    host: str, port: int, user: str, secret: str, *, deadline: float, alive: Callable[[], bool]
) -> None:
    """Return once booted; TimeoutError at ``deadline`` (monotonic); ProcessExited if it died."""
    while time.monotonic() < deadline:
        if not alive():
            raise ProcessExited("see the console log")
        try:
            if await _try_once(host, port, user, secret, wait_s=2.0):
                return
        except (OSError, TimeoutError):
            pass
        await asyncio.sleep(0.1)
    raise TimeoutError
