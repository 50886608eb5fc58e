"""The AMI wire protocol without I/O, in the manner of h11.

Bytes in (:meth:`AmiProtocol.receive_data`), messages out (:meth:`AmiProtocol.next_message`),
actions to bytes (:meth:`AmiProtocol.send`). No sockets, no event loop, no clock, so the
whole of the parsing can be tested by replaying recorded transcripts in any chunking.

What the wire looks like:

* On connect Asterisk writes one banner line, ``Asterisk Call Manager/11.0.0``, with no
  blank line after it.
* Every other message is a block of ``Key: value`` lines ended by an empty line. Lines end
  in CRLF; bare LF is accepted too (proxies and hand-typed transcripts use it).
* The legacy Command answer (Asterisk < 14) is ``Response: Follows``, ``Privilege`` and
  ``ActionID`` headers, then raw CLI output that may contain blank lines and ``Key: value``
  lookalikes, ended by ``--END COMMAND--`` (sometimes glued to the last output line).
  Modern Asterisk sends ``Response: Success`` with one ``Output:`` header per line instead.

Malformed input never raises. A frame with a line that is not ``Key: value`` (or ``Key:``),
binary junk, or more than ``max_frame_bytes`` without an end becomes a
:class:`ProtocolErrorMessage`; parsing carries on at the next frame, so one bad frame costs
at most that frame. Junk lines in front of a ``Response:``/``Event:`` line in the same block
are reported separately and the message after them is still delivered.
"""

from __future__ import annotations

from collections import deque

from ivr.ami.messages import (
    Action,
    Event,
    Greeting,
    Headers,
    Message,
    ProtocolErrorMessage,
    Response,
)

#: Largest frame accepted. Real frames are a few hundred bytes; a big ``core show channels``
#: output is tens of KiB. Anything beyond this is a runaway peer or not AMI at all.
MAX_FRAME_BYTES = 1 << 20

_BANNER_PREFIX = "Asterisk Call Manager/"
_BANNER_BYTES = _BANNER_PREFIX.encode()
_END_COMMAND = "--END COMMAND--"
#: Raw bytes kept in a ProtocolErrorMessage, enough to recognise the junk in a log line.
_RAW_KEEP = 512
#: Headers of a legacy ``Response: Follows`` before its free-form output starts.
_FOLLOWS_HEADERS = frozenset({"privilege", "actionid"})
_MAX_KEY_LEN = 128


def split_header(line: str) -> tuple[str, str] | None:
    """``"Key: value"`` -> ``("Key", "value")``; ``"Key:"`` -> ``("Key", "")``; else None.

    Keys must be printable text without surrounding spaces: a key carrying control
    characters or undecodable bytes (shown as U+FFFD) means the line is junk.
    """
    key, sep, rest = line.partition(":")
    if not sep or not key or len(key) > _MAX_KEY_LEN or key != key.strip():
        return None
    # whole-string checks run in C; a per-character loop here was the parser's hot spot
    if not key.isprintable() or "\ufffd" in key:
        return None
    if rest == "":
        return key, ""
    if not rest.startswith(" "):
        return None
    return key, rest[1:]


class AmiProtocol:
    """Incremental AMI parser and serialiser for one connection.

    Feed whatever the socket produced to :meth:`receive_data` (``b""`` at end of stream),
    then call :meth:`next_message` until it returns None. The messages produced do not
    depend on how the bytes were chunked.
    """

    def __init__(self, *, max_frame_bytes: int = MAX_FRAME_BYTES) -> None:
        self._max = max_frame_bytes
        self._buf = bytearray()
        self._pos = 0  # start of unconsumed bytes in _buf (compacted lazily: no O(n^2) copies)
        self._scanned = 0  # bytes from _pos already known to hold no newline
        self._ready: deque[Message] = deque()
        self._lines: list[str] = []  # decoded lines of the frame being read
        self._raw = bytearray()  # first bytes of that frame, for error reports
        self._frame_bytes = 0
        self._follows = False  # inside a legacy Response: Follows
        self._follows_output: list[str] = []
        self._discarding = False  # skipping an overlong frame up to the next blank line
        self._discard_mid_line = False
        self._eof = False

    # ---- input ----------------------------------------------------------------------

    def receive_data(self, data: bytes) -> None:
        """Add bytes from the peer; ``b""`` means the peer closed the connection."""
        if self._eof:
            return
        if data:
            self._buf += data
            return
        self._eof = True

    def next_message(self) -> Message | None:
        """The next complete message, or None until more data arrives."""
        # Each pass consumes a frame, a line or the whole buffer, so this ends within
        # len(buf) passes.
        while not self._ready:
            if not (self._whole_frame() or self._step()):
                break
        return self._ready.popleft() if self._ready else None

    def _whole_frame(self) -> bool:
        """Fast path: take a complete, ordinary frame at once (decode and split once).

        Anything unusual (the banner, a legacy ``Response: Follows``, a frame already half
        read, blank lines between frames, an overlong frame) is left to the line-by-line
        path, which produces exactly the same messages. At tens of events per call, the
        per-line path was the controller's hottest code.
        """
        if self._lines or self._follows or self._discarding or self._eof:
            return False
        buf, pos = self._buf, self._pos
        if pos >= len(buf) or buf[pos] in (10, 13) or buf.startswith(_BANNER_BYTES, pos):
            return False
        crlf, lf = buf.find(b"\n\r\n", pos), buf.find(b"\n\n", pos)
        ends = [e + 3 for e in (crlf,) if e >= 0] + [e + 2 for e in (lf,) if e >= 0]
        if not ends:
            return False
        stop = min(ends)
        if stop - pos > self._max:
            return False
        frame = bytes(buf[pos:stop])
        lines = [line.rstrip("\r") for line in frame.decode("utf-8", errors="replace").split("\n")]
        lines = lines[: lines.index("")]
        if not lines or lines[0].casefold().replace(" ", "") == "response:follows":
            return False
        self._pos = stop
        self._scanned = 0
        if self._pos >= len(buf) or self._pos > 65536:
            del buf[: self._pos]
            self._pos = 0
        self._lines = lines
        self._raw = bytearray(frame[:_RAW_KEEP])
        self._frame_bytes = len(frame)
        self._finish_frame()
        return True

    def _step(self) -> bool:
        """Consume one line (or the tail at EOF). False when nothing more can be done now."""
        end = self._buf.find(b"\n", self._pos + self._scanned)
        if end < 0:
            self._scanned = len(self._buf) - self._pos
            return self._step_without_newline()
        raw_line = bytes(self._buf[self._pos : end + 1])
        self._pos = end + 1
        self._scanned = 0
        if self._pos >= len(self._buf) or self._pos > 65536:
            del self._buf[: self._pos]
            self._pos = 0
        if self._discarding:
            self._discard_line(raw_line)
        else:
            self._take_line(raw_line)
        return True

    def _drop_pending(self) -> bytes:
        pending = bytes(self._buf[self._pos :])
        self._buf.clear()
        self._pos = self._scanned = 0
        return pending

    def _step_without_newline(self) -> bool:
        pending = len(self._buf) - self._pos
        if self._discarding:
            if pending:
                # Drop the partial line now so memory stays bounded; remember it had content.
                has_content = bool(self._drop_pending().strip(b"\r"))
                self._discard_mid_line = self._discard_mid_line or has_content
            return False
        if self._frame_bytes + pending > self._max:
            partial = self._drop_pending()
            self._overlong(partial[:_RAW_KEEP])
            self._discard_mid_line = bool(partial.strip(b"\r"))
            return True
        if self._eof and (pending or self._lines or self._follows):
            self._drop_pending()
            self._report("connection closed in the middle of a frame")
            self._reset_frame()
            return True
        return False

    def _discard_line(self, raw_line: bytes) -> None:
        blank = not raw_line.strip(b"\r\n") and not self._discard_mid_line
        self._discard_mid_line = False
        if blank:
            self._discarding = False

    def _overlong(self, sample: bytes) -> None:
        self._raw += sample[: max(0, _RAW_KEEP - len(self._raw))]
        self._report(f"frame longer than {self._max} bytes; skipped up to the next blank line")
        self._reset_frame()
        self._discarding = True

    def _take_line(self, raw_line: bytes) -> None:
        self._frame_bytes += len(raw_line)
        if len(self._raw) < _RAW_KEEP:
            self._raw += raw_line[: _RAW_KEEP - len(self._raw)]
        if self._frame_bytes > self._max:
            self._overlong(b"")
            # The line that tipped it over may itself end the frame.
            self._discard_line(raw_line)
            return
        line = raw_line.rstrip(b"\n").rstrip(b"\r").decode("utf-8", errors="replace")
        if self._follows:
            self._take_follows_line(line)
        elif line == "":
            if self._lines:
                self._finish_frame()
            else:
                self._reset_frame()  # blank lines between frames carry nothing
        elif not self._lines and line.startswith(_BANNER_PREFIX):
            self._ready.append(Greeting(banner=line))
            self._reset_frame()
        else:
            if not self._lines and line.casefold().replace(" ", "") == "response:follows":
                self._follows = True
            self._lines.append(line)

    def _take_follows_line(self, line: str) -> None:
        if line.endswith(_END_COMMAND):
            head = line[: -len(_END_COMMAND)]
            if head:
                self._follows_output.append(head)
            self._finish_follows()
            return
        header = split_header(line) if not self._follows_output else None
        if header is not None and header[0].casefold() in _FOLLOWS_HEADERS:
            self._lines.append(line)
        else:
            self._follows_output.append(line)

    # ---- frame assembly -------------------------------------------------------------

    def _finish_follows(self) -> None:
        headers = tuple(h for h in map(split_header, self._lines) if h is not None)
        output = self._follows_output
        # CLI output ends with a newline before the marker; that is not an output line.
        if output and output[-1] == "":
            output = output[:-1]
        self._ready.append(Response(headers=headers, legacy_output=tuple(output)))
        self._reset_frame()

    def _finish_frame(self) -> None:
        parsed = [split_header(line) for line in self._lines]
        start = next(
            (
                i
                for i, h in enumerate(parsed)
                if h is not None and h[0].casefold() in ("response", "event")
            ),
            None,
        )
        if start is None:
            self._report("frame has no Response or Event header")
        elif start > 0 and any(h is None for h in parsed[:start]):
            junk = "\n".join(self._lines[:start]).encode("utf-8", errors="replace")
            self._ready.append(ProtocolErrorMessage("junk before a frame", junk[:_RAW_KEEP]))
            self._build(parsed[start:])
        else:
            self._build(parsed)
        self._reset_frame()

    def _build(self, parsed: list[tuple[str, str] | None]) -> None:
        if any(h is None for h in parsed):
            self._report("line without 'Key: value' inside a frame")
            return
        headers: Headers = tuple(h for h in parsed if h is not None)
        first = headers[0][0].casefold()
        # OriginateResponse carries both Event: and Response:; the first header decides.
        if first == "event" or (
            first != "response" and any(k.casefold() == "event" for k, _ in headers)
        ):
            self._ready.append(Event(headers=headers))
        else:
            self._ready.append(Response(headers=headers))

    def _report(self, reason: str) -> None:
        self._ready.append(ProtocolErrorMessage(reason=reason, raw=bytes(self._raw)))

    def _reset_frame(self) -> None:
        self._lines = []
        self._raw = bytearray()
        self._frame_bytes = 0
        self._follows = False
        self._follows_output = []

    # ---- output ---------------------------------------------------------------------

    def send(self, action: Action) -> bytes:
        """Serialise an action. Raises ValueError for a key or value that would break the
        framing (CR/LF, a colon in a key): that is a caller bug, and sending it could
        inject headers."""
        lines = [("Action", action.name)]
        if action.action_id is not None:
            if action.get("ActionID") is not None:
                raise ValueError("ActionID given both as a header and as action_id")
            lines.append(("ActionID", action.action_id))
        lines.extend(action.headers)
        for name, value in action.variables:
            if "=" in name or not name:
                raise ValueError(f"bad variable name {name!r}")
            lines.append(("Variable", f"{name}={value}"))
        out: list[str] = []
        for key, value in lines:
            if not key or ":" in key or _breaks_line(key) or _breaks_line(value):
                raise ValueError(f"header {key!r} cannot be sent on AMI")
            out.append(f"{key}: {value}\r\n")
        out.append("\r\n")
        return "".join(out).encode("utf-8")


def _breaks_line(text: str) -> bool:
    return "\r" in text or "\n" in text
