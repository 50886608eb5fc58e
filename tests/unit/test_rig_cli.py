"""The rig's command line: option parsing and usage errors (no phone is started)."""

from __future__ import annotations

from pathlib import Path

import pytest

from sip_test_rig.cli import build_parser, in_call_from_args, main
from sip_test_rig.script import DtmfPress, Playback


def test_call_options_become_an_in_call_script() -> None:
    """--play/--play-at/--dtmf/--record/--hangup-after map onto one InCall script."""
    args = build_parser().parse_args(
        [
            "call",
            "--to",
            "9001",
            "--play",
            "a.wav",
            "--play-at",
            "0.5",
            "--dtmf",
            "1@3.0,#@20",
            "--record",
            "out.wav",
            "--hangup-after",
            "25",
        ]
    )
    script = in_call_from_args(args)
    assert script.play == (Playback(path=Path("a.wav"), at_s=0.5),)
    assert script.dtmf == (DtmfPress(digit="1", at_s=3.0), DtmfPress(digit="#", at_s=20.0))
    assert (script.record_to, script.hangup_after_s) == (Path("out.wav"), 25.0)


def test_help_lists_the_call_command(capsys: pytest.CaptureFixture[str]) -> None:
    """--help exits 0 and describes the call command."""
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    assert "call" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "complaint"),
    [
        (["call", "--to", "9001", "--dtmf", "1@x"], "is not a number"),
        (["call", "--to", "9001"], "without --registrar"),
        (["call", "--to", "9001", "--registrar", "10.1.2.3:5060"], "only talks to 127.0.0.1"),
        (["call", "--to", "sip:a@127.0.0.1:5", "--hangup-after", "0"], "more than 0"),
    ],
)
def test_bad_options_are_usage_errors_with_exit_code_2(
    argv: list[str], complaint: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Garbage options exit 2 with a message, before any phone process starts."""
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    assert complaint in capsys.readouterr().err
