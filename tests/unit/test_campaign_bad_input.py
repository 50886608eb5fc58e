"""Bad input to bulletins and campaigns: a clear error, and the database unchanged."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import numpy as np
import pytest

from ivr.campaigns.service import CampaignService
from ivr.clock import SystemClock
from ivr.errors import BulletinNotFound, ConflictError, GroupNotFound, InputError
from ivr.speech.audio import Audio, write_wav
from ivr.store import campaigns_repo as repo
from ivr.store import members_repo
from ivr.store.database import Database
from ivr.store.testing import open_test_database, snapshot

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "csv"


@pytest.fixture
async def service(tmp_path: Path) -> AsyncIterator[CampaignService]:
    async with open_test_database(f"sqlite+aiosqlite:///{tmp_path / 'wl.db'}") as db:
        async with db.session(write=True) as s:
            await members_repo.create_group(s, "north")
        yield CampaignService(db, SystemClock(), data_dir=tmp_path / "data", sounds_dir=None)


def _tone(path: Path, seconds: float = 2.0, rate: int = 16000) -> Path:
    t = np.arange(int(seconds * rate)) / rate
    write_wav(path, Audio.from_float(0.3 * np.sin(2 * np.pi * 440 * t), rate))
    return path


async def _unchanged(db: Database, before: dict[str, list[tuple[object, ...]]]) -> None:
    assert await snapshot(db) == before


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda p: p / "missing.wav", "not found"),
        (lambda p: _file(p / "notes.wav", b"these are not sounds"), "not usable audio"),
        (lambda p: _file(p / "empty.wav", b""), "not usable audio"),
        (lambda p: _truncated(p), "not usable audio"),
        (lambda p: _silent(p), "silent"),
        (lambda p: _tone(p / "blip.wav", seconds=0.1), "too short"),
        (lambda p: _tone(p / "long.wav", seconds=301, rate=8000), "limit"),
    ],
    ids=["missing", "text", "empty", "truncated", "silent", "too-short", "too-long"],
)
async def test_an_unusable_bulletin_is_refused_with_a_reason(
    service: CampaignService, tmp_path: Path, make: object, reason: str
) -> None:
    before = await snapshot(service.db)
    path = make(tmp_path)  # type: ignore[operator]
    with pytest.raises(InputError) as e:
        await service.add_bulletin(path, title="t", created_by="test")
    assert reason in str(e.value)
    await _unchanged(service.db, before)
    assert not (tmp_path / "data" / "bulletins").exists()


def _file(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def _truncated(p: Path) -> Path:
    good = _tone(p / "good.wav")
    (p / "cut.wav").write_bytes(good.read_bytes()[:30])
    return p / "cut.wav"


def _silent(p: Path) -> Path:
    write_wav(p / "quiet.wav", Audio.silence(3.0, 8000))
    return p / "quiet.wav"


async def test_a_good_bulletin_is_stored_as_8khz_phone_audio(
    service: CampaignService, tmp_path: Path
) -> None:
    bulletin_id = await service.add_bulletin(_tone(tmp_path / "b.wav"), title="ok", created_by="t")
    from ivr.speech.audio import read_wav

    stored = read_wav(tmp_path / "data" / "bulletins" / f"{bulletin_id}.wav")
    assert stored.rate == 8000 and 1.5 < len(stored.samples) / 8000 < 2.5


async def test_a_campaign_for_an_unknown_group_or_bulletin_changes_nothing(
    service: CampaignService, tmp_path: Path
) -> None:
    bulletin_id = await service.add_bulletin(_tone(tmp_path / "b.wav"), title="ok", created_by="t")
    before = await snapshot(service.db)
    with pytest.raises(GroupNotFound) as e:
        await service.create(bulletin_id, ["north", "no-such-group"])
    assert "no-such-group" in str(e.value)
    with pytest.raises(BulletinNotFound):
        await service.create(bulletin_id + 99, ["north"])
    with pytest.raises(InputError):
        await service.create(bulletin_id, [])
    await _unchanged(service.db, before)


async def test_state_changes_that_make_no_sense_are_refused(
    service: CampaignService, tmp_path: Path
) -> None:
    bulletin_id = await service.add_bulletin(_tone(tmp_path / "b.wav"), title="ok", created_by="t")
    cid = await service.create(bulletin_id, ["north"])
    with pytest.raises(ConflictError):
        await service.pause(cid)  # a draft is not running
    await service.cancel(cid)
    with pytest.raises(ConflictError):
        await service.start(cid)  # cancelled is final
    async with service.db.session() as s:
        assert (await repo.get_campaign(s, cid)).finished_at is not None


def _ivr(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "WATCHLINE_DATA_DIR": str(tmp_path / "var")}
    return subprocess.run(
        [sys.executable, "-m", "ivr", *args], env=env, capture_output=True, text=True, timeout=120
    )


def test_the_cli_reports_bad_input_clearly_and_imports_nothing(tmp_path: Path) -> None:
    assert _ivr(tmp_path, "groups", "add", "north").returncode == 0
    bad = FIXTURES / "members_mixed_problems.csv"
    result = _ivr(tmp_path, "members", "import", str(bad), "--group", "north")
    assert result.returncode == 2
    assert "line" in result.stdout, result.stdout
    good = FIXTURES / "members_good.csv"
    unknown = _ivr(tmp_path, "members", "import", str(good), "--group", "no-such-group")
    assert unknown.returncode == 2 and "no-such-group" in unknown.stderr + unknown.stdout
    export = tmp_path / "out.csv"
    assert _ivr(tmp_path, "members", "export", "-o", str(export)).returncode == 0
    assert export.read_text(encoding="utf-8-sig").count("\n") == 1  # header only: nothing imported
    missing = _ivr(tmp_path, "bulletins", "add", str(tmp_path / "nope.wav"), "--title", "x")
    assert missing.returncode == 2 and "not found" in missing.stderr
    assert (
        _ivr(tmp_path, "campaigns", "create", "--bulletin", "1", "--group", "north").returncode == 2
    )
