"""Main menu 1 on the bulletin line: record, review, choose groups, urgency and time, send.

1. "Please record your bulletin after the tone. When you have finished, press the hash
   key." The recording ends with the hash key, silence, or the length limit.
2. A silent, too short or unusable recording is explained and recorded again (a few takes
   at most). Otherwise the caller hears it exactly as members will (trimmed, loudness
   normalised), then: 1 accept, 2 record again, 3 hear it again, star for the choices.
3. The spoken group list: a key per group (up to 9), 0 for all of them, hash to finish.
4. Urgent or not; then now, this evening at 7, or tomorrow at 10 (see ``menus.when_menu``).
5. The desk creates the bulletin and its campaign in one transaction, and the caller hears
   when it will go.

Nothing is created before step 5. A call that ends earlier (a hang-up mid-recording, or no
answer to a menu) leaves no bulletin, campaign or draft behind; the coordinator hears at
their next sign-in that nothing was sent.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ivr.bulletin_line.menus import REVIEW, URGENT, GroupPick, PickResult, pick_group
from ivr.errors import ConflictError, InputError
from ivr.flows.bulletin_ask import MENU_ROUNDS, ask
from ivr.flows.bulletin_ports import (
    CoordinatorDesk,
    CoordinatorRef,
    Draft,
    GroupOption,
    Rejection,
    SendChoice,
)
from ivr.flows.delivery import KEY_TIMEOUT_S, key_after, sound
from ivr.telephony.call import Call, CallEnded

#: "Hear it again" presses allowed on one recording (bounds the review loop).
MAX_REVIEWS = 6
#: Keys on the group list before giving up (bounds the loop for a confused caller).
MAX_GROUP_KEYS = 30
#: Asking the send-time menu again when a preset passed while the caller chose it.
WHEN_TRIES = 2

_REJECTED = {
    Rejection.SILENT: "bulletin_silence_recorded",
    Rejection.TOO_SHORT: "bulletin_recording_too_short",
    Rejection.UNUSABLE: "bulletin_recording_unusable",
}


@dataclass(frozen=True)
class RecordOptions:
    max_recording_s: int = 180
    silence_s: int = 10
    max_takes: int = 5
    #: recordings are named <prefix>-<take>; make it unique per call
    recording_prefix: str = "bulletin"


async def record_and_send(
    call: Call,
    desk: CoordinatorDesk,
    who: CoordinatorRef,
    groups: Sequence[GroupOption],
    options: RecordOptions,
) -> bool:
    """True when the bulletin was sent (or scheduled) and the call goes on to the main
    menu; False when the caller was told goodbye."""
    caller = call.caller_number
    sent = False
    draft: Draft | None = None
    try:
        draft = await _record_until_accepted(call, desk, options)
        if draft is None:
            return False
        chosen = await _choose_groups(call, groups)
        if chosen is None:
            return False
        urgent = await ask(call, [sound(URGENT.prompt)], URGENT.choices)
        if urgent is None:
            return False
        for _ in range(WHEN_TRIES):
            when = desk.when_menu()
            key = await ask(call, [sound(when.menu.prompt)], when.menu.choices)
            if key is None:
                return False
            action = when.menu.action(key)
            choice = SendChoice(chosen, URGENT.action(urgent) == "urgent",
                                None if action == "now" else action)  # fmt: skip
            try:
                outcome = await desk.send(who, draft, choice, caller)
            except (InputError, ConflictError):
                # the preset's time passed while it was being chosen, or sends at a time
                # are unavailable just now: "now" is still offered
                await call.play([sound("common_invalid_key")])
                continue
            sent = True
            if outcome.run_at is None:
                await call.play([sound("bulletin_sent_now")])
            else:
                await call.play(
                    [sound("bulletin_sent_at"), *_sounds(desk.spoken_when(outcome.run_at))]
                )
            return True
        return False
    finally:
        if draft is not None:
            await desk.discard_draft(draft)
        if not sent:
            # the call ended (a hang-up, or no usable answer) after recording began and
            # before sending: tell the coordinator at their next sign-in
            await desk.note_not_sent(who, caller)


def _sounds(ids: Sequence[str]) -> list[str]:
    return [sound(i) for i in ids]


async def _record_until_accepted(
    call: Call, desk: CoordinatorDesk, options: RecordOptions
) -> Draft | None:
    for take in range(1, options.max_takes + 1):
        await call.play([sound("bulletin_record")], interruptible=False)
        name = f"{options.recording_prefix}-{take}"
        result = await call.record(
            name, max_duration_s=options.max_recording_s, max_silence_s=options.silence_s,
            beep=True, terminate_on="#",
        )  # fmt: skip
        if result.ended_by == "hangup":
            await desk.forget_recording(name)
            raise CallEnded(call.channel_id)
        if not result.stored:
            await call.play([sound("common_technical_problem")], interruptible=False)
            return None
        audio = await call.fetch_recording(name)
        await desk.forget_recording(name)
        made = await desk.make_draft(audio, name)
        if isinstance(made, Rejection):
            await call.play([sound(_REJECTED[made])], interruptible=False)
            continue
        verdict: str | None = None
        try:
            verdict = await _review(call, made)
        finally:
            if verdict != "accept":  # re-recorded, no answer, or the caller hung up
                await desk.discard_draft(made)
        if verdict == "accept":
            return made
        if verdict is None:
            return None
    await call.play([sound("bulletin_takes_exhausted")], interruptible=False)
    return None


async def _review(call: Call, draft: Draft) -> str | None:
    """'accept', 'rerecord', or None when the caller gave no usable answer."""
    playback = [sound("bulletin_playback_intro"), draft.media]
    for _ in range(MAX_REVIEWS):
        key = await ask(call, [sound(REVIEW.prompt)], REVIEW.choices, before=playback)
        if key is None:
            return None
        action = REVIEW.action(key)
        if action in ("accept", "rerecord"):
            return action
        playback = [draft.media]  # hear it again
    return None


def _group_list(groups: Sequence[GroupOption], state: GroupPick) -> list[str]:
    media = [sound("bulletin_groups_intro")]
    by_name = {g.name: g for g in groups}
    for key, name in enumerate(state.keyed, start=1):
        # a name that could not be voiced is spoken as its key number instead
        spoken = by_name[name].sound or sound(f"number_{key}")
        media += [sound("bulletin_group_for"), spoken, sound(f"bulletin_group_press_{key}")]
    return [*media, sound("bulletin_groups_all")]


async def _choose_groups(call: Call, groups: Sequence[GroupOption]) -> tuple[str, ...] | None:
    state = GroupPick(tuple(g.name for g in groups))
    listing = _group_list(groups, state)
    prompt = listing
    misses = 0
    for _ in range(MAX_GROUP_KEYS):
        key = await key_after(call, prompt, timeout_s=KEY_TIMEOUT_S)
        state, result = pick_group(state, key)
        if result in (PickResult.ALL, PickResult.DONE):
            return state.chosen
        if result is PickResult.ADDED:
            prompt = [sound("bulletin_group_added")]
            continue
        if result is PickResult.REPEAT:
            prompt = listing
            continue
        misses += 1
        if misses >= MENU_ROUNDS:
            break
        if result is PickResult.NOT_OFFERED:
            prompt = [sound("bulletin_group_not_offered"), *listing]
        elif result is PickResult.NONE_CHOSEN:
            prompt = [sound("bulletin_group_none_chosen"), *listing]
        elif state.complete:  # silence after choosing some: how to finish
            prompt = [sound("common_no_input"), sound("bulletin_groups_finish")]
        else:
            prompt = [sound("common_no_input"), *listing]
    await call.play([sound("common_too_many_attempts")], interruptible=False)
    return None
