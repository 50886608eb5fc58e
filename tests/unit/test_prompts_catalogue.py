"""The prompt catalogue: structure is validated on load, wording rules are linted."""

from __future__ import annotations

import datetime as dt
import itertools
from pathlib import Path

import pytest

from ivr.errors import ConfigError
from ivr.speech import say
from ivr.speech.prompts import (
    Catalogue,
    Prompt,
    PromptKind,
    lint,
    lint_prompt,
    load_catalogue,
    parse_catalogue,
)

HEAD = "flows: {delivery: calls to members, report: the report line}\nprompts:\n"


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    return load_catalogue()


def _rules(text: str, kind: PromptKind = "prompt") -> set[str]:
    return {p.rule for p in lint_prompt(Prompt("report_x", text, kind=kind))}


# --- the real catalogue -------------------------------------------------------------------


def test_the_catalogue_follows_every_wording_rule(catalogue: Catalogue) -> None:
    """The shipped catalogue lints clean: no raw "999", star everywhere a choice is offered."""
    assert [str(p) for p in lint(catalogue)] == []


def test_catalogue_ids_are_unique_and_flat_snake_case(catalogue: Catalogue) -> None:
    """Ids are stable names for flow code and file names: unique, flow-prefixed."""
    assert len(set(catalogue.ids)) == len(catalogue)
    assert all(p.flow in catalogue.flows for p in catalogue)


def test_the_emergency_warning_is_spoken_digit_by_digit(catalogue: Catalogue) -> None:
    """The one sentence that must never be misread tells callers to dial 9 9 9."""
    assert catalogue["report_emergency_warning"].text == (
        "If you are in danger or a crime is happening now, hang up and dial 9 9 9."
    )
    assert not any("999" in p.text for p in catalogue)


@pytest.mark.parametrize(
    "prompt_id",
    [
        "delivery_intro", "delivery_intro_generic", "delivery_bulletin_intro", "delivery_menu",
        "delivery_confirmed", "delivery_opted_out", "delivery_no_key", "delivery_voicemail_intro",
        "delivery_voicemail_replay", "bulletin_welcome", "bulletin_enter_coordinator_number",
        "bulletin_enter_pin", "bulletin_wrong_pin", "bulletin_locked_out", "bulletin_main_menu",
        "bulletin_record", "bulletin_review_menu", "bulletin_groups_intro", "bulletin_group_for",
        "bulletin_groups_all", "bulletin_urgent_menu", "bulletin_when_menu", "bulletin_sent_now",
        "bulletin_no_groups", "bulletin_silence_recorded", "bulletin_group_not_offered",
        "report_greeting", "report_emergency_warning", "report_category_menu",
        "report_category_menu_keys", "report_not_understood", "report_where", "report_what",
        "report_rerecord_menu", "report_callback_menu", "report_callback_withheld",
        "report_reference_intro", "report_reference_repeat", "report_next_steps",
        "report_goodbye", "replay_welcome", "replay_enter_number", "replay_no_bulletins",
        "replay_bulletin_menu", "replay_end", "common_invalid_key", "common_no_input",
        "common_technical_problem", "common_goodbye", "key_star", "key_hash",
    ],
)  # fmt: skip
def test_every_flow_has_its_prompts(catalogue: Catalogue, prompt_id: str) -> None:
    """The ids flow code is written against exist."""
    assert prompt_id in catalogue


def test_the_report_menu_offers_all_six_categories_by_key(catalogue: Catalogue) -> None:
    """Keys always work beside speech ("theft" is poorly recognised at 8 kHz)."""
    text = catalogue["report_category_menu_keys"].text
    for key, category in enumerate(
        ["theft", "criminal damage", "anti-social behaviour", "lost or found property",
         "fraud", "something else"], start=1,
    ):  # fmt: skip
        assert f"For {category}, press {key}." in text


def test_every_id_runtime_speech_can_produce_is_in_the_catalogue(catalogue: Catalogue) -> None:
    """say.py never names a prompt the build did not render."""
    produced: list[str] = [say.GROUP_PAUSE]
    produced += say.digits("0123456789*#")
    for n in range(10_000):
        produced += say.number(n)
    for hour, minute in itertools.product(range(24), range(60)):
        produced += say.clock_time(hour, minute)
    now = dt.datetime(2025, 1, 6, 9, 0)
    for days in range(7):
        produced += say.when(now + dt.timedelta(days=days, hours=1), now)
    produced += say.summary(1, 1, 0, 0) + say.summary(3, 9, 2, 1) + say.position(1, 2)
    assert say.unknown_ids(produced, catalogue.ids) == []


# --- structural validation ----------------------------------------------------------------


def test_a_well_formed_catalogue_parses_in_file_order() -> None:
    """Entries keep their order; folded text is joined into single-spaced sentences."""
    cat = parse_catalogue(
        HEAD + "  - {id: delivery_a, text: 'One.  Two.'}\n"
        "  - {id: delivery_b, kind: fragment, text: from}\n"
        "  - {id: report_gap, kind: pause, silence_ms: 300}\n"
    )
    assert cat.ids == ("delivery_a", "delivery_b", "report_gap")
    assert cat["delivery_a"].text == "One. Two."
    assert cat["report_gap"].silence_ms == 300 and not cat["report_gap"].is_spoken
    assert [p.id for p in cat.spoken()] == ["delivery_a", "delivery_b"]


def test_duplicate_ids_are_rejected() -> None:
    """Two entries with one id would make one of them unreachable."""
    with pytest.raises(ConfigError, match="delivery_a: duplicate id"):
        parse_catalogue(HEAD + "  - {id: delivery_a, text: A.}\n  - {id: delivery_a, text: B.}\n")


def test_every_structural_problem_is_reported_at_once() -> None:
    """An author fixing the file sees all problems in one run, each naming its entry."""
    with pytest.raises(ConfigError) as caught:
        parse_catalogue(
            HEAD + "  - {id: delivery.intro, text: A.}\n"
            "  - {id: fax_cover, text: B.}\n"
            "  - {id: delivery_c, text: C., colour: red}\n"
            "  - {id: delivery_d, kind: pause, text: D., silence_ms: 100}\n"
            "  - {id: delivery_e, kind: chorus, text: E.}\n"
            "  - {id: delivery_f}\n"
        )
    message = str(caught.value)
    assert "6 problem(s)" in message
    for fragment in [
        "'delivery.intro' is not flat snake_case", "prefix 'fax' is not a flow",
        "delivery_c: unknown field(s) colour", "delivery_d: a pause has no text",
        "delivery_e: kind 'chorus'", "delivery_f: no text",
    ]:  # fmt: skip
        assert fragment in message


@pytest.mark.parametrize(
    "text", ["", "just a string", "prompts: []", "flows: {}\nprompts: [{id: a_b, text: A.}]"]
)
def test_a_file_without_flows_and_prompts_is_rejected(text: str) -> None:
    """The catalogue needs its flow prefixes declared and a list of prompts."""
    with pytest.raises(ConfigError, match="prompt catalogue"):
        parse_catalogue(text)


def test_invalid_yaml_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="not valid YAML"):
        parse_catalogue("prompts: [unclosed")


def test_a_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_catalogue(tmp_path / "nope.yaml")


# --- lint rules ---------------------------------------------------------------------------


def test_raw_multi_digit_numbers_are_flagged_with_the_spoken_form() -> None:
    """TTS reads "999" as "nine hundred and ninety nine"; the lint suggests "9 9 9"."""
    problems = lint_prompt(Prompt("report_x", "Dial 999."))
    assert [(p.rule, p.message) for p in problems] == [
        ("spoken-digits", "write '999' as it is spoken, e.g. '9 9 9'")
    ]


def test_a_choice_without_star_to_repeat_is_flagged() -> None:
    """Every prompt offering keys also says how to hear it again."""
    assert "star-repeats" in _rules("To confirm, press 1. To cancel, press 2.")
    assert "star-repeats" not in _rules("To confirm, press 1. To hear this again, press star.")


def test_a_fragment_ending_a_spoken_list_need_not_offer_star() -> None:
    """'press 3.' ends one line of a group list; the list's last prompt offers star."""
    assert _rules("press 3.", kind="fragment") == set()


def test_the_key_must_end_its_sentence() -> None:
    """ "Press 1 to confirm" makes the caller hold the key in mind while the action is said."""
    assert "key-last" in _rules("Press 1 to confirm. To hear this again, press star.")
    assert "key-last" not in _rules("To confirm, press 1. To hear this again, press star.")


def test_bare_hash_is_flagged() -> None:
    """'hash' alone is easily lost on a landline; 'the hash key' is not."""
    assert "hash-key" in _rules("When you have finished, press hash.")
    assert "hash-key" not in _rules("When you have finished, press the hash key.")


def test_long_sentences_and_missing_full_stops_are_flagged() -> None:
    long = " ".join(["word"] * 21) + "."
    assert "short-sentences" in _rules(long)
    assert "full-stop" in _rules("Thank you")
    assert "full-stop" not in _rules("Hello. This is a message from", kind="fragment")
