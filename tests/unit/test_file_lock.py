"""The shared-cache lock: a second holder waits until the first lets go."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from ivr.file_lock import exclusive


def test_a_second_holder_waits_for_the_first(tmp_path: Path) -> None:
    lock = tmp_path / "cache" / "build.lock"  # the folder does not exist yet
    order: list[str] = []
    second_waiting = threading.Event()

    def second() -> None:
        second_waiting.set()
        with exclusive(lock):  # a separate open file: flock makes it wait, even in-process
            order.append("second in")

    with exclusive(lock):
        order.append("first in")
        thread = threading.Thread(target=second)
        thread.start()
        assert second_waiting.wait(5)
        time.sleep(0.2)  # time enough for the second to get in, if the lock did not hold
        order.append("first out")
    thread.join(5)
    assert order == ["first in", "first out", "second in"]


def test_the_lock_is_free_again_after_an_error(tmp_path: Path) -> None:
    lock = tmp_path / "build.lock"
    try:
        with exclusive(lock):
            raise RuntimeError("the build failed")
    except RuntimeError:
        pass
    got = threading.Event()

    def take() -> None:
        with exclusive(lock):
            got.set()

    thread = threading.Thread(target=take)
    thread.start()
    thread.join(5)
    assert got.is_set()
