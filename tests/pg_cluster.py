"""A throwaway PostgreSQL cluster for the test session, so every store test also runs on
PostgreSQL (nothing in the store may rule it out).

Started only when ``WATCHLINE_TEST_DATABASE_URL`` is unset and Debian's server binaries
exist. It listens on 127.0.0.1 on a free port, lives in a temp dir and is stopped (by its
own pg_ctl) at the end of the session. initdb refuses to run as root, so as root it runs
as the ``postgres`` user that Debian's package creates.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path


def _bindir() -> Path | None:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    return found[-1].parent if found else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def throwaway_cluster() -> Iterator[str | None]:
    """Yield an asyncpg URL for a fresh database, or None when PostgreSQL is unavailable."""
    bindir = _bindir()
    if bindir is None:
        yield None
        return
    as_root = os.geteuid() == 0
    prefix = ["runuser", "-u", "postgres", "--"] if as_root else []
    # Not under pytest's tmp dir: that is private to root, and the server runs as postgres.
    base = Path(tempfile.mkdtemp(prefix="watchline-pg-"))
    data, sock = base / "data", base / "sock"
    sock.mkdir()
    if as_root:
        shutil.chown(base, "postgres")
        shutil.chown(sock, "postgres")
    port = _free_port()

    def run(*cmd: str) -> None:
        subprocess.run([*prefix, *cmd], check=True, capture_output=True, timeout=120)

    run(str(bindir / "initdb"), "-D", str(data), "-U", "watchline", "--auth=trust", "-E", "UTF8")
    run(
        str(bindir / "pg_ctl"), "-D", str(data), "-l", str(base / "server.log"), "-w",
        "-o", f"-h 127.0.0.1 -p {port} -k {sock} -c fsync=off", "start",
    )  # fmt: skip
    try:
        run(str(bindir / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", "watchline",
            "watchline_test")  # fmt: skip
        yield f"postgresql+asyncpg://watchline@127.0.0.1:{port}/watchline_test"
    finally:
        with contextlib.suppress(subprocess.SubprocessError, OSError):
            run(str(bindir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop")
        shutil.rmtree(base, ignore_errors=True)
