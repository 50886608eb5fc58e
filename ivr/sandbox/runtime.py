"""Find or provision the Asterisk binary the sandbox runs.

Two kinds of runtime:

- ``native``: an Asterisk 20+ installed on the host (Ubuntu 24.04, Debian sid...).
- ``sidroot``: Debian 12 does not package Asterisk, so we debootstrap a minimal Debian sid
  root with the asterisk packages and run it with ``chroot`` inside a private mount
  namespace (see :mod:`ivr.sandbox.process`). The root is cached outside the repo
  (``<cache_dir>/sidroot``); a second run reuses it.

Provisioning is idempotent and safe against a concurrent run (a file lock), and a failed
rebuild never destroys the last good root: we build into ``sidroot.new`` and swap.
"""

from __future__ import annotations

import logging
import re
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from ivr.errors import ProvisionError
from ivr.file_lock import exclusive

log = logging.getLogger(__name__)

MIN_MAJOR = 20
SID_PACKAGES = ("asterisk", "asterisk-modules", "asterisk-core-sounds-en-gsm")
# Written last, so its presence means the whole root was built and set up.
_READY_STAMP = ".watchline-ready"
_MODULES_SUBDIR = "usr/lib/x86_64-linux-gnu/asterisk/modules"


@dataclass(frozen=True)
class AsteriskRuntime:
    kind: Literal["native", "sidroot"]
    #: The chroot for ``sidroot``; ``None`` for native.
    root: Path | None
    version: str
    #: Paths as Asterisk sees them (inside the root for sidroot).
    modules_dir: str
    data_dir: str

    def host_path(self, inside: str) -> Path:
        """A path as Asterisk sees it, translated to the host."""
        return Path(inside) if self.root is None else self.root / inside.lstrip("/")


def parse_version(text: str) -> tuple[int, str] | None:
    """``"Asterisk 22.10.1+dfsg..."`` -> ``(22, "22.10.1+dfsg...")``."""
    m = re.search(r"Asterisk\s+((\d+)\.[\w.+~-]*)", text)
    return (int(m.group(2)), m.group(1)) if m else None


def debian_mirror_from_sources(texts: list[str]) -> str | None:
    """The Debian archive the host's own apt sources name (deb822 or one-line format).

    Security and third-party archives are skipped: we want the main archive, whose ``sid``
    suite has Asterisk.
    """
    for text in texts:
        for m in re.finditer(r"^\s*URIs:\s*(.+)$", text, re.M):
            for uri in m.group(1).split():
                if _is_main_debian(uri):
                    return uri.rstrip("/")
        for m in re.finditer(r"^\s*deb\s+(?:\[[^]]*\]\s+)?(\S+)\s+\S+", text, re.M):
            if _is_main_debian(m.group(1)):
                return m.group(1).rstrip("/")
    return None


def _is_main_debian(uri: str) -> bool:
    return uri.startswith(("http://", "https://")) and (
        uri.rstrip("/").endswith("/debian") and "security" not in uri
    )


def host_debian_mirror() -> str | None:
    texts: list[str] = []
    for p in [Path("/etc/apt/sources.list"), *sorted(Path("/etc/apt/sources.list.d").glob("*"))]:
        if p.suffix in (".list", ".sources") and p.is_file():
            texts.append(p.read_text(errors="replace"))
    return debian_mirror_from_sources(texts)


def find_native() -> AsteriskRuntime | None:
    exe = shutil.which("asterisk") or (
        "/usr/sbin/asterisk" if Path("/usr/sbin/asterisk").exists() else None
    )
    if exe is None:
        return None
    try:
        out = subprocess.run([exe, "-V"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.TimeoutExpired):
        return None
    parsed = parse_version(out)
    if parsed is None or parsed[0] < MIN_MAJOR:
        log.info("native asterisk %r is too old (need %d+); using the sid root", out, MIN_MAJOR)
        return None
    modules = next(
        (
            d
            for d in ("/usr/lib/x86_64-linux-gnu/asterisk/modules", "/usr/lib/asterisk/modules")
            if Path(d).is_dir()
        ),
        "/usr/lib/asterisk/modules",
    )
    data = "/usr/share/asterisk" if Path("/usr/share/asterisk").is_dir() else "/var/lib/asterisk"
    return AsteriskRuntime("native", None, parsed[1], modules, data)


def sidroot_runtime(root: Path) -> AsteriskRuntime | None:
    """The cached root, if it is complete."""
    if not (root / _READY_STAMP).exists():
        return None
    _post_setup(root)
    version = (root / _READY_STAMP).read_text().strip() or "unknown"
    return AsteriskRuntime("sidroot", root, version, "/" + _MODULES_SUBDIR, "/usr/share/asterisk")


def provision_sidroot(
    cache_dir: Path, mirror: str | None, *, rebuild: bool = False
) -> AsteriskRuntime:
    """Return the cached sid root, building it first if needed (about 50 s, 500 MB)."""
    root = cache_dir / "sidroot"
    with exclusive(cache_dir / "provision.lock"):
        existing = sidroot_runtime(root)
        if existing is not None and not rebuild:
            return existing
        log_file = cache_dir / "provision.log"
        try:
            return _build(cache_dir, root, mirror, log_file)
        except ProvisionError:
            if existing is not None:
                # Sid moves daily; a rebuild caught in a transition must not cost us the root.
                log.warning(
                    "rebuild of the sid root failed; keeping the last good one (%s)", log_file
                )
                return existing
            raise


def _build(cache_dir: Path, root: Path, mirror: str | None, log_file: Path) -> AsteriskRuntime:
    if shutil.which("debootstrap") is None:
        raise ProvisionError(
            "debootstrap", "debootstrap is not installed (apt-get install debootstrap)", None
        )
    mirror = mirror or host_debian_mirror()
    if mirror is None:
        raise ProvisionError(
            "mirror",
            "no Debian mirror found in /etc/apt/sources*; set sandbox.debian_mirror in the config",
            None,
        )
    new = cache_dir / "sidroot.new"
    if new.exists():
        shutil.rmtree(new)
    cmd = [
        "debootstrap",
        "--variant=minbase",
        f"--include={','.join(SID_PACKAGES)}",
        "sid",
        str(new),
        mirror,
    ]
    log.info("provisioning the Asterisk sid root from %s (about a minute)", mirror)
    started = time.monotonic()
    with log_file.open("w") as out:
        out.write(" ".join(cmd) + "\n")
        out.flush()
        try:
            rc = subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT, timeout=1800).returncode
        except subprocess.TimeoutExpired as e:
            raise ProvisionError("debootstrap", "timed out after 30 minutes", log_file) from e
    if rc != 0:
        raise ProvisionError(
            "debootstrap",
            f"exit code {rc}. Debian sid may be mid-transition; retry later with "
            "`ivr asterisk provision --rebuild`",
            log_file,
        )
    _post_setup(new)
    ver = subprocess.run(
        ["chroot", str(new), "/usr/sbin/asterisk", "-V"], capture_output=True, text=True, timeout=30
    ).stdout
    parsed = parse_version(ver)
    if parsed is None or parsed[0] < MIN_MAJOR:
        raise ProvisionError("verify", f"unexpected `asterisk -V` output {ver!r}", log_file)
    (new / _READY_STAMP).write_text(parsed[1] + "\n")
    old = cache_dir / "sidroot.old"
    if old.exists():
        shutil.rmtree(old)
    if root.exists():
        root.rename(old)
    new.rename(root)
    if old.exists():
        shutil.rmtree(old, ignore_errors=True)
    log.info("sid root ready: Asterisk %s in %.0f s", parsed[1], time.monotonic() - started)
    runtime = sidroot_runtime(root)
    assert runtime is not None
    return runtime


def _post_setup(root: Path) -> None:
    """Settings measured to matter, applied at build and again at every start (idempotent).

    - ``/etc/hosts`` with localhost and our host name: without it every call made DNS
      look-ups that left loopback.
    - an empty ``resolv.conf``: with a nameserver present, pjsip opens a DNS resolver on
      0.0.0.0 and [::]; the sandbox resolves nothing, and nothing may bind beyond loopback.
    - the mount point for instance directories.
    """
    hostname = socket.gethostname()
    hosts = f"127.0.0.1 localhost {hostname}\n::1 localhost\n"
    _write_if_changed(root / "etc/hosts", hosts)
    resolv = root / "etc/resolv.conf"
    if resolv.is_symlink():
        resolv.unlink()
    _write_if_changed(resolv, "# the Watchline sandbox resolves nothing: all traffic is loopback\n")
    (root / "srv/watchline").mkdir(parents=True, exist_ok=True)


def _write_if_changed(path: Path, text: str) -> None:
    if not path.exists() or path.read_text() != text:
        path.write_text(text)


def ensure_runtime(
    cache_dir: Path, mirror: str | None, prefer: Literal["auto", "native", "sidroot"] = "auto"
) -> AsteriskRuntime:
    """The runtime to use, provisioning the sid root if there is no native Asterisk."""
    if prefer in ("auto", "native"):
        native = find_native()
        if native is not None:
            return native
        if prefer == "native":
            raise ProvisionError("native", "no Asterisk 20+ found on PATH or in /usr/sbin", None)
    return provision_sidroot(cache_dir, mirror)
