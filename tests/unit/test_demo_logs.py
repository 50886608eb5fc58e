"""A failed demo keeps the logs that explain it, though its work dir is temporary."""

from __future__ import annotations

from pathlib import Path

from ivr.demo.run import keep_logs


def test_a_failed_demo_keeps_asterisks_log_and_each_rig_workers(tmp_path: Path) -> None:
    work = tmp_path / "work"
    (work / "asterisk" / "log").mkdir(parents=True)
    (work / "rig").mkdir()
    (work / "asterisk" / "log" / "full").write_text("Playing 'watchline/digit_2.slin'\n")
    for n in (1, 2):
        (work / "rig" / f"worker-{n}.log").write_text(f"worker {n}\n")
    (work / "rig" / "notes.txt").write_text("not a log\n")
    out = tmp_path / "demo-output" / "logs"
    out.mkdir(parents=True)
    (out / "rig-worker-9.log").write_text("from an older run\n")

    kept = keep_logs(work / "asterisk" / "log" / "full", work / "rig", out)

    assert kept == out
    assert sorted(p.name for p in out.iterdir()) == [
        "asterisk-full.log",
        "rig-worker-1.log",
        "rig-worker-2.log",
    ]
    assert (out / "asterisk-full.log").read_text().startswith("Playing")
    assert (out / "rig-worker-2.log").read_text() == "worker 2\n"


def test_a_demo_that_never_got_an_asterisk_keeps_what_there_is(tmp_path: Path) -> None:
    kept = keep_logs(tmp_path / "missing" / "full", tmp_path / "no-rig", tmp_path / "logs")
    assert list(kept.iterdir()) == []
