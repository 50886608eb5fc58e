"""``ivr coordinators``: add (PIN from a hidden prompt or stdin, never an argument), list,
groups, pin, unlock and the audit trail, on the configured database."""

from __future__ import annotations

import asyncio
import io
import json
from pathlib import Path

import pytest

from ivr.bulletin_line.testing import add_members
from ivr.cli import main as cli
from ivr.store.database import Database


async def _cli(argv: list[str]) -> int:
    """The CLI runs its own event loop: run it in a thread, as a shell would."""
    return await asyncio.to_thread(cli, argv)


@pytest.fixture
async def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("WATCHLINE_DATA_DIR", str(tmp_path))
    async with Database.open(f"sqlite+aiosqlite:///{tmp_path / 'watchline.db'}") as db:
        await add_members(db, "riverside", [])
        await add_members(db, "kings-arms", [])
    return tmp_path


async def test_a_coordinator_is_added_with_a_pin_from_stdin_and_shown_without_it(
    data_dir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("7391\n"))
    argv = ["coordinators", "add", "--name", "Ann Lee", "--phone", "01632 960100",
            "--group", "riverside", "--pin-stdin"]  # fmt: skip
    assert await _cli(argv) == 0
    out = capsys.readouterr().out
    assert "coordinator 1 added: Ann Lee +441632960100" in out and "7391" not in out
    assert await _cli(["coordinators", "list", "--json"]) == 0
    (listed,) = json.loads(capsys.readouterr().out)
    assert listed["groups"] == ["riverside"] and "pin_hash" not in listed
    assert await _cli(["coordinators", "groups", "1", "--group", "kings-arms"]) == 0
    assert json.loads(capsys.readouterr().out)["groups"] == ["kings-arms"]


async def test_a_pin_typed_at_the_prompt_must_match_twice(
    data_dir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    typed = iter(["7391", "7392"])
    monkeypatch.setattr("getpass.getpass", lambda prompt="": next(typed))
    argv = ["coordinators", "add", "--name", "Ann", "--phone", "+441632960100"]
    assert await _cli(argv) == 2
    assert "the two PINs differ" in capsys.readouterr().err
    assert await _cli(["coordinators", "list", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == []


async def test_bad_input_is_refused_with_a_reason_and_a_nonzero_exit(
    data_dir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("1234\n"))
    argv = ["coordinators", "add", "--name", "Ann", "--phone", "+441632960100", "--pin-stdin"]
    assert await _cli(argv) == 2
    err = capsys.readouterr().err
    assert "consecutive digits" in err and "1234" not in err
    assert await _cli(["coordinators", "show", "7"]) == 2
    assert "coordinator 7 not found" in capsys.readouterr().err


async def test_pin_unlock_and_events_leave_an_audit_trail_without_pins(
    data_dir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("7391\n"))
    argv = ["coordinators", "add", "--name", "Ann", "--phone", "+441632960100", "--pin-stdin"]
    assert await _cli(argv) == 0
    monkeypatch.setattr("sys.stdin", io.StringIO("5082\n"))
    assert await _cli(["coordinators", "pin", "1", "--pin-stdin"]) == 0
    assert await _cli(["coordinators", "unlock", "1"]) == 0
    capsys.readouterr()
    assert await _cli(["coordinators", "events", "1"]) == 0
    out = capsys.readouterr().out
    assert [e["kind"] for e in json.loads(out)] == ["unlocked", "pin_changed", "created"]
    assert "7391" not in out and "5082" not in out
