"""One simulated phone inside a worker process: a pjsua2 account and its calls.

Everything here runs on the worker's single thread. pjsua2 calls back into Python from
``libHandleEvents`` (DTMF arrives the same way, as a pending job, because the endpoint runs
with ``mainThreadOnly``), and script steps run from asyncio timers. Callbacks only record
state and schedule work with ``loop.call_soon``: deleting a Call or a recorder inside a
pjsua callback is how pjsua2 programs crash.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ParamSpec, Protocol

import pjsua2 as pj

from sip_test_rig.addressing import loopback_host
from sip_test_rig.protocol import Event
from sip_test_rig.script import (
    REJECT_STATUS,
    AnsweringMachine,
    CallScript,
    InCall,
    PhoneScript,
    RingAction,
)
from sip_test_rig.timeline import Action, Step, in_call_steps
from sip_test_rig.wavfile import wav_is_complete

log = logging.getLogger(__name__)
P = ParamSpec("P")

#: No call outlives this, whatever its script says: a forgotten call must not hold a
#: phone (and its process's 4-call budget) for the rest of a test run.
MAX_CALL_S = 900.0
#: Longest wait for pjsua2 to finish writing a recording after the call ends.
RECORDING_FLUSH_S = 3.0


class Emit(Protocol):
    def __call__(self, event: Event, /, **fields: Any) -> None: ...


@dataclass
class WorkerContext:
    """What the worker lends its phones: timers, the event sink, the transport, its calls."""

    loop: asyncio.AbstractEventLoop
    emit: Emit
    transport_id: int
    sip_port: int
    #: Duration of a playable WAV (validated), for answering machine timing.
    wav_seconds: Callable[[Path], float]
    #: The beep WAV for an answering machine (made once per frequency and length).
    beep_for: Callable[[AnsweringMachine], Path]
    calls: dict[str, RigCall] = field(default_factory=dict)
    incoming_seq: int = 0

    def new_incoming_id(self, phone_id: str) -> str:
        self.incoming_seq += 1
        return f"{phone_id}-in{self.incoming_seq}"


def guarded(method: Callable[P, None]) -> Callable[P, None]:
    """Keep a pjsua2 callback from raising: an exception escaping a SWIG director callback
    aborts the whole process, taking every phone in it down."""

    @functools.wraps(method)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> None:
        try:
            method(*args, **kwargs)
        except Exception:
            log.exception("pjsua2 callback %s failed", method.__qualname__)

    return wrapper


def pj_error_text(error: BaseException) -> str:
    """A one-line text for a pjsua2 ``Error`` (its ``str`` is empty) or any exception."""
    if isinstance(error, pj.Error):
        return f"{error.title}: {error.reason} (status {error.status})"
    return f"{type(error).__name__}: {error}"


class RigAccount(pj.Account):  # type: ignore[misc]
    """A phone line: registers (or not, for direct calls) and follows its script."""

    def __init__(
        self,
        ctx: WorkerContext,
        phone_id: str,
        username: str,
        password: str,
        registrar: tuple[str, int] | None,
        script: PhoneScript,
    ) -> None:
        super().__init__()
        self.ctx = ctx
        self.phone_id = phone_id
        self.registrar = (loopback_host(registrar[0]), registrar[1]) if registrar else None
        self.script = script
        self.shutting_down = False
        self._registered: bool | None = None
        self.uri = f"sip:{username}@127.0.0.1:{ctx.sip_port}"
        self.create(self._config(username, password))

    def _config(self, username: str, password: str) -> pj.AccountConfig:
        cfg = pj.AccountConfig()
        cfg.sipConfig.transportId = self.ctx.transport_id
        if self.registrar is not None:
            host, port = self.registrar
            cfg.idUri = f"sip:{username}@{host}"
            cfg.regConfig.registrarUri = f"sip:{host}:{port}"
            # Fail fast and retry soon: tests start phones right after Asterisk.
            cfg.regConfig.retryIntervalSec = 2
            cfg.regConfig.firstRetryIntervalSec = 1
            # libDestroy waits this long for un-REGISTER answers; Asterisk may be gone.
            cfg.regConfig.unregWaitMsec = 1000
            cfg.sipConfig.authCreds.append(pj.AuthCredInfo("digest", "*", username, 0, password))
        else:
            # A direct-call phone: reachable at its own URI, no registrar at all.
            cfg.idUri = self.uri
            cfg.regConfig.registrarUri = ""
        # RTP stays on loopback; port 0 lets the OS pick ports, so processes never collide.
        media = cfg.mediaConfig.transportConfig
        media.port = 0
        media.boundAddress = "127.0.0.1"
        media.publicAddress = "127.0.0.1"
        nat = cfg.natConfig
        nat.sipStunUse = pj.PJSUA_STUN_USE_DISABLED
        nat.mediaStunUse = pj.PJSUA_STUN_USE_DISABLED
        nat.iceEnabled = False
        # Everything is on 127.0.0.1; rewriting Contact/Via/SDP only adds re-REGISTERs.
        nat.contactRewriteUse = 0
        nat.viaRewriteUse = 0
        nat.sdpNatRewriteUse = 0
        # No session-timer re-INVITEs in the middle of a recording.
        cfg.callConfig.timerUse = pj.PJSUA_SIP_TIMER_INACTIVE
        return cfg

    @guarded
    def onRegState(self, prm: pj.OnRegStateParam) -> None:
        if self.shutting_down:
            return
        ok = 200 <= prm.code < 300 and prm.expiration > 0
        if ok == self._registered:
            return  # a refresh, not news
        self._registered = ok
        event = Event.REGISTERED if ok else Event.REGISTRATION_FAILED
        self.ctx.emit(event, phone_id=self.phone_id, status=prm.code, reason=prm.reason)

    @guarded
    def onIncomingCall(self, prm: pj.OnIncomingCallParam) -> None:
        call_id = self.ctx.new_incoming_id(self.phone_id)
        call = RigCall(self, call_id, "incoming", self.script, prm.callId)
        self.ctx.calls[call_id] = call
        call.ring()

    def place_call(self, call_id: str, script: CallScript, uri: str) -> None:
        call = RigCall(self, call_id, "outgoing", script, pj.PJSUA_INVALID_ID)
        self.ctx.calls[call_id] = call
        try:
            call.dial(uri, script.ring_timeout_s)
        except Exception:
            del self.ctx.calls[call_id]
            raise


class RigCall(pj.Call):  # type: ignore[misc]
    """One call and its script: ring/answer/reject, then timed steps after the answer."""

    def __init__(
        self, account: RigAccount, call_id: str, direction: str, script: InCall, pj_id: int
    ) -> None:
        super().__init__(account, pj_id)
        self.account = account
        self.ctx = account.ctx
        self.call_id = call_id
        self.direction = direction
        self.script = script
        self.answered_at: float | None = None
        self.ended = False
        self.local_hangup = False
        self.remote_uri = ""
        self.digits_sent = ""
        self.digits_received = ""
        self.recording: Path | None = None
        self._timers: list[asyncio.TimerHandle] = []
        self._ring_timer: asyncio.TimerHandle | None = None
        self._audio: pj.AudioMedia | None = None
        self._waiting_for_media: list[Step] = []
        self._players: list[pj.AudioMediaPlayer] = []
        self._recorder: pj.AudioMediaRecorder | None = None
        #: the receive jitter buffer's counters, read as the audio stream ends
        self.jitter_buffer: dict[str, int] = {}
        self._later(MAX_CALL_S, self.hang_up)

    # ---- ringing -------------------------------------------------------------------------

    def ring(self) -> None:
        """An incoming call: say 180 Ringing, then answer or reject on the script's clock."""
        self.remote_uri = self.getInfo().remoteUri
        self.ctx.emit(Event.INCOMING, **self._ids(), remote_uri=self.remote_uri)
        script = self.script
        assert isinstance(script, PhoneScript)
        self._answer(180)
        if script.on_ring is RingAction.ANSWER:
            self._later(script.answer_after_s, lambda: self._answer(200))
        elif script.on_ring in REJECT_STATUS:
            status = REJECT_STATUS[script.on_ring]
            self._later(script.answer_after_s, lambda: self.hang_up(status))
        # NO_ANSWER: keep ringing until the caller cancels (or MAX_CALL_S).

    def dial(self, uri: str, ring_timeout_s: float) -> None:
        self.remote_uri = uri
        self.makeCall(uri, pj.CallOpParam(True))
        self._ring_timer = self._later(ring_timeout_s, self.hang_up)

    def _answer(self, status: int) -> None:
        if self.ended:
            return
        prm = pj.CallOpParam()
        prm.statusCode = status
        self._try("answer", lambda: self.answer(prm))

    def hang_up(self, status: int | None = None) -> None:
        """End the call from this side (CANCEL, BYE, or a final ``status`` while ringing)."""
        if self.ended:
            return
        self.local_hangup = True
        prm = pj.CallOpParam()
        if status is not None:
            prm.statusCode = status
        self._try("hangup", lambda: self.hangup(prm))

    # ---- pjsua2 callbacks (record state, schedule the rest) ------------------------------

    @guarded
    def onCallState(self, prm: pj.OnCallStateParam) -> None:
        info = self.getInfo()
        if info.state == pj.PJSIP_INV_STATE_CONFIRMED and self.answered_at is None:
            self.ctx.loop.call_soon(self._on_answered)
        elif info.state == pj.PJSIP_INV_STATE_DISCONNECTED and not self.ended:
            self.ended = True
            ended = {
                "sip_status": info.lastStatusCode,
                "reason": info.lastReason,
                "duration_s": info.connectDuration.sec + info.connectDuration.msec / 1000,
            }
            self.ctx.loop.call_soon(self._finish, ended)

    @guarded
    def onCallMediaState(self, prm: pj.OnCallMediaStateParam) -> None:
        info = self.getInfo()  # keep it: .media of a temporary CallInfo dangles in SWIG
        for media in info.media:
            if media.type == pj.PJMEDIA_TYPE_AUDIO and media.status == pj.PJSUA_CALL_MEDIA_ACTIVE:
                self._audio = self.getAudioMedia(media.index)
                waiting, self._waiting_for_media = self._waiting_for_media, []
                for step in waiting:
                    self.ctx.loop.call_soon(self._run, step)
                return

    @guarded
    def onStreamDestroyed(self, prm: pj.OnStreamDestroyedParam) -> None:
        # What the phone heard depends on this: "empty" counts frames the buffer had
        # none for (concealed, so a word may stutter), "discard" frames it dropped.
        jb = self.getStreamStat(prm.streamIdx).jbuf
        self.jitter_buffer = {
            "empty": jb.empty,
            "discard": jb.discard,
            "lost": jb.lost,
            "prefetch_frames": jb.prefetch,
            "avg_delay_ms": jb.avgDelayMsec,
            "max_delay_ms": jb.maxDelayMsec,
        }
        log.info("call %s: jitter buffer %s", self.call_id, self.jitter_buffer)

    @guarded
    def onDtmfDigit(self, prm: pj.OnDtmfDigitParam) -> None:
        self.digits_received += prm.digit
        self.ctx.emit(Event.DTMF_RECEIVED, **self._ids(), digit=prm.digit)

    # ---- after the answer ----------------------------------------------------------------

    def _on_answered(self) -> None:
        if self.ended or self.answered_at is not None:
            return
        self.answered_at = self.ctx.loop.time()
        if self._ring_timer is not None:
            self._ring_timer.cancel()
        self.ctx.emit(Event.ANSWERED, **self._ids())
        greeting_s, beep = 0.0, None
        machine = self.script.answering_machine if isinstance(self.script, PhoneScript) else None
        if machine is not None:
            greeting_s, beep = self.ctx.wav_seconds(machine.greeting), self.ctx.beep_for(machine)
        steps = in_call_steps(self.script, call_id=self.call_id, greeting_s=greeting_s, beep=beep)
        for step in steps:
            self._later(step.at_s, functools.partial(self._run, step))

    def _run(self, step: Step) -> None:
        if self.ended:
            return
        if step.action is Action.HANGUP:
            self.hang_up()
            return
        if self._audio is None:
            self._waiting_for_media.append(step)  # runs from onCallMediaState
            return
        self._try(step.action.value, lambda: self._media_step(step))

    def _media_step(self, step: Step) -> None:
        assert self._audio is not None
        if step.action is Action.RECORD and step.path is not None and self._recorder is None:
            step.path.parent.mkdir(parents=True, exist_ok=True)
            recorder = pj.AudioMediaRecorder()
            recorder.createRecorder(str(step.path))
            self._audio.startTransmit(recorder)
            self._recorder, self.recording = recorder, step.path
        elif step.action is Action.PLAY and step.path is not None:
            player = pj.AudioMediaPlayer()
            player.createPlayer(str(step.path), pj.PJMEDIA_FILE_NO_LOOP)
            player.startTransmit(self._audio)
            self._players.append(player)
        elif step.action is Action.DTMF:
            prm = pj.CallSendDtmfParam()
            prm.digits = step.digit
            prm.method = pj.PJSUA_DTMF_METHOD_RFC2833
            self.sendDtmf(prm)
            self.digits_sent += step.digit
            at_s = round(self.ctx.loop.time() - (self.answered_at or 0.0), 3)
            self.ctx.emit(Event.DTMF_SENT, **self._ids(), digit=step.digit, at_s=at_s)

    # ---- the end -------------------------------------------------------------------------

    def release_media(self) -> None:
        """Stop timers, players and the recorder; closing the recorder finishes the WAV."""
        for timer in self._timers:
            timer.cancel()
        self._timers.clear()
        self._waiting_for_media.clear()
        audio = self._audio
        if audio is not None:
            for player in self._players:
                self._try("stop player", functools.partial(player.stopTransmit, audio))
            if self._recorder is not None:
                self._try("stop recorder", functools.partial(audio.stopTransmit, self._recorder))
        self._players.clear()
        self._recorder = None  # the last reference: pjsua2 closes the file here
        self._audio = None

    def _finish(self, ended: dict[str, Any]) -> None:
        self.release_media()
        deadline = self.ctx.loop.time() + RECORDING_FLUSH_S
        self._emit_ended_when_flushed(ended, deadline)

    def _emit_ended_when_flushed(self, ended: dict[str, Any], deadline: float) -> None:
        """Report the end only once the recording is complete on disk (or the wait is up),
        so a test can read the file as soon as it has the result."""
        if self.recording is not None and not wav_is_complete(self.recording):
            if self.ctx.loop.time() < deadline:
                # In _timers, so that a shutdown's release_media stops this chain too: a
                # pending callback would keep this Call alive past libDestroy.
                self._timers.append(
                    self.ctx.loop.call_later(0.02, self._emit_ended_when_flushed, ended, deadline)
                )
                return
            log.warning("call %s: recording %s still incomplete", self.call_id, self.recording)
        # The last reference to this Call: pjsua2 frees it here, outside any callback.
        self.ctx.calls.pop(self.call_id, None)
        self.ctx.emit(
            Event.CALL_ENDED,
            **self._ids(),
            direction=self.direction,
            answered=self.answered_at is not None,
            ended_by="local" if self.local_hangup else "remote",
            recording=str(self.recording) if self.recording else None,
            digits_sent=self.digits_sent,
            digits_received=self.digits_received,
            remote_uri=self.remote_uri,
            jitter_buffer=self.jitter_buffer,
            **ended,
        )

    # ---- helpers -------------------------------------------------------------------------

    def _ids(self) -> dict[str, str]:
        return {"phone_id": self.account.phone_id, "call_id": self.call_id}

    def _later(self, delay_s: float, fn: Callable[[], object]) -> asyncio.TimerHandle:
        timer = self.ctx.loop.call_later(delay_s, fn)
        self._timers.append(timer)
        return timer

    def _try(self, what: str, fn: Callable[[], object]) -> None:
        """Run a pjsua2 operation; a failure becomes an error event, not a dead worker."""
        try:
            fn()
        except Exception as e:
            log.warning("call %s: %s failed: %s", self.call_id, what, pj_error_text(e))
            self.ctx.emit(Event.ERROR, **self._ids(), message=f"{what}: {pj_error_text(e)}")
