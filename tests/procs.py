"""What /proc says about a process we started (for tests that check how it runs)."""

from __future__ import annotations

from pathlib import Path


def thread_nices(pid: int) -> set[int]:
    """The nice value of every thread of ``pid`` (field 19 of /proc/<pid>/task/<tid>/stat)."""
    nices = set()
    for stat in Path(f"/proc/{pid}/task").glob("*/stat"):
        fields = stat.read_text().rpartition(")")[2].split()
        nices.add(int(fields[16]))
    return nices
