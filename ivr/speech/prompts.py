"""The prompt catalogue: every phrase a caller hears, loaded from ``prompts/catalogue.yaml``.

Two levels of checking, kept apart on purpose:

* :func:`parse_catalogue` validates structure (unique, well-formed ids with a declared flow
  prefix, known kinds, text where text is needed). A catalogue that fails cannot be built or
  played, so it raises :class:`~ivr.errors.ConfigError` listing every problem at once.
* :func:`lint` checks wording rules that keep prompts usable by elderly callers on landlines
  (no "999" that TTS would read as "nine hundred and ninety nine", star offered wherever a
  key choice is, the key last in its sentence, short sentences). It returns problems rather
  than raising, so a build can still run while an author is mid-edit; the unit tests and
  ``ivr prompts build`` treat any problem as a failure.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Literal

import yaml

from ivr.errors import ConfigError

PromptKind = Literal["prompt", "fragment", "pause"]
KINDS: Final[frozenset[str]] = frozenset({"prompt", "fragment", "pause"})

#: Flat snake_case. Dots would work in Asterisk file names too, but flat ids are also safe
#: as Python identifiers, YAML keys and log fields without quoting.
ID_PATTERN: Final = re.compile(r"^[a-z][a-z0-9]*(?:_[a-z0-9]+)+$")

#: Longest sentence the lint accepts, in words. Callers under stress lose the thread of a
#: long sentence; "If you are in danger or a crime is happening now, hang up and dial 9 9 9."
#: (17 words counting each digit) is about the limit.
MAX_SENTENCE_WORDS: Final = 20

_ENTRY_KEYS: Final = frozenset({"id", "text", "notes", "kind", "silence_ms"})
_KEY_OFFER = re.compile(r"\bpress (?:[0-9]|star|hash|the (?:star|hash) key)\b", re.IGNORECASE)
_BARE_HASH = re.compile(r"\bpress hash\b", re.IGNORECASE)
_DIGIT_CHOICE = re.compile(r"\bpress [0-9]\b", re.IGNORECASE)
_STAR_OFFER = re.compile(r"\bpress star\b", re.IGNORECASE)
_LONG_NUMBER = re.compile(r"\d{3,}")
_SENTENCE_END = re.compile(r"(?<=[.?!])\s+")


def default_catalogue_path() -> Path:
    """``prompts/catalogue.yaml`` in the source tree (the package is installed editable)."""
    return Path(__file__).resolve().parents[2] / "prompts" / "catalogue.yaml"


@dataclass(frozen=True)
class Prompt:
    """One catalogue entry. ``text`` is empty only for pauses, which have ``silence_ms``."""

    id: str
    text: str
    notes: str = ""
    kind: PromptKind = "prompt"
    silence_ms: int = 0

    @property
    def flow(self) -> str:
        return self.id.split("_", 1)[0]

    @property
    def is_spoken(self) -> bool:
        return self.kind != "pause"


@dataclass(frozen=True)
class Catalogue:
    """The validated catalogue, in file order; look entries up by id with ``catalogue[id]``."""

    prompts: tuple[Prompt, ...]
    flows: Mapping[str, str] = field(default_factory=dict)
    _by_id: Mapping[str, Prompt] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_id", {p.id: p for p in self.prompts})

    def __getitem__(self, prompt_id: str) -> Prompt:
        return self._by_id[prompt_id]

    def __contains__(self, prompt_id: object) -> bool:
        return prompt_id in self._by_id

    def __iter__(self) -> Iterator[Prompt]:
        return iter(self.prompts)

    def __len__(self) -> int:
        return len(self.prompts)

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(p.id for p in self.prompts)

    def spoken(self) -> tuple[Prompt, ...]:
        return tuple(p for p in self.prompts if p.is_spoken)


def load_catalogue(path: Path | None = None) -> Catalogue:
    """Read and validate a catalogue file (default: :func:`default_catalogue_path`)."""
    path = path or default_catalogue_path()
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise ConfigError(f"prompt catalogue {path}: cannot read: {e.strerror or e}") from e
    return parse_catalogue(text, source=str(path))


def parse_catalogue(text: str, *, source: str = "<catalogue>") -> Catalogue:
    """Validate catalogue YAML; raise ConfigError naming every structural problem found."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise ConfigError(f"prompt catalogue {source}: not valid YAML: {e}") from e
    if not isinstance(data, dict) or not isinstance(data.get("prompts"), list):
        raise ConfigError(f"prompt catalogue {source}: needs a top-level 'prompts' list")
    flows_raw = data.get("flows") or {}
    if not isinstance(flows_raw, dict) or not flows_raw:
        raise ConfigError(f"prompt catalogue {source}: needs a 'flows' mapping of id prefixes")
    flows = {str(k): str(v) for k, v in flows_raw.items()}

    problems: list[str] = []
    prompts: list[Prompt] = []
    seen: set[str] = set()
    for index, raw in enumerate(data["prompts"]):
        where = f"entry {index + 1}"
        if not isinstance(raw, dict):
            problems.append(f"{where}: not a mapping")
            continue
        prompt = _parse_entry(raw, where, flows, problems)
        if prompt is None:
            continue
        if prompt.id in seen:
            problems.append(f"{prompt.id}: duplicate id")
            continue
        seen.add(prompt.id)
        prompts.append(prompt)
    if problems:
        listing = "\n".join(f"  - {p}" for p in problems)
        raise ConfigError(f"prompt catalogue {source}: {len(problems)} problem(s):\n{listing}")
    return Catalogue(tuple(prompts), flows)


def _parse_entry(
    raw: dict[str, Any], where: str, flows: Mapping[str, str], problems: list[str]
) -> Prompt | None:
    prompt_id = raw.get("id")
    if not isinstance(prompt_id, str) or not ID_PATTERN.match(prompt_id):
        problems.append(f"{where}: id {prompt_id!r} is not flat snake_case like 'delivery_menu'")
        return None
    before = len(problems)
    unknown = set(raw) - _ENTRY_KEYS
    if unknown:
        problems.append(f"{prompt_id}: unknown field(s) {', '.join(sorted(unknown))}")
    flow = prompt_id.split("_", 1)[0]
    if flow not in flows:
        problems.append(f"{prompt_id}: prefix {flow!r} is not a flow declared under 'flows'")
    kind = raw.get("kind", "prompt")
    if kind not in KINDS:
        problems.append(f"{prompt_id}: kind {kind!r} is not one of {sorted(KINDS)}")
    text = raw.get("text", "")
    notes = raw.get("notes", "")
    if not isinstance(text, str) or not isinstance(notes, str):
        problems.append(f"{prompt_id}: text and notes must be strings")
        text, notes = "", ""
    text = " ".join(text.split())  # folded YAML may leave double spaces or a trailing newline
    silence_ms = raw.get("silence_ms", 0)
    if kind == "pause":
        if text:
            problems.append(f"{prompt_id}: a pause has no text")
        if not isinstance(silence_ms, int) or not 0 < silence_ms <= 5000:
            problems.append(f"{prompt_id}: a pause needs silence_ms between 1 and 5000")
    else:
        if not text:
            problems.append(f"{prompt_id}: no text")
        if silence_ms:
            problems.append(f"{prompt_id}: only a pause has silence_ms")
    if len(problems) > before:
        return None
    return Prompt(prompt_id, text, notes.strip(), kind, int(silence_ms))


# --- lint ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class LintProblem:
    prompt_id: str
    rule: str
    message: str

    def __str__(self) -> str:
        return f"{self.prompt_id}: [{self.rule}] {self.message}"


def lint(catalogue: Catalogue) -> list[LintProblem]:
    """Wording problems in spoken entries; an empty list means the catalogue follows the rules."""
    problems: list[LintProblem] = []
    for prompt in catalogue.spoken():
        problems.extend(lint_prompt(prompt))
    return problems


def lint_prompt(prompt: Prompt) -> list[LintProblem]:
    """The rules for one entry (see prompts/README.md "Writing prompts")."""
    found: list[LintProblem] = []

    def add(rule: str, message: str) -> None:
        found.append(LintProblem(prompt.id, rule, message))

    text = prompt.text
    for number in _LONG_NUMBER.findall(text):
        spaced = " ".join(number)
        add("spoken-digits", f"write {number!r} as it is spoken, e.g. {spaced!r}")
    # A fragment ending a group line ("press 3.") is not a menu on its own: the list it is
    # part of ends with a whole prompt that offers star.
    if prompt.kind == "prompt" and _DIGIT_CHOICE.search(text) and not _STAR_OFFER.search(text):
        add("star-repeats", "offers a key choice but not 'press star' to hear it again")
    for sentence in _SENTENCE_END.split(text):
        words = sentence.split()
        if len(words) > MAX_SENTENCE_WORDS:
            add("short-sentences", f"{len(words)} words in {sentence!r}")
        offer = _KEY_OFFER.search(sentence)
        if offer and sentence[offer.end() :].strip(" .?!"):
            add("key-last", f"the key should end its sentence: {sentence!r}")
    if _BARE_HASH.search(text):
        add("hash-key", "say 'press the hash key': a bare 'hash' is easily lost at 8 kHz")
    if prompt.kind == "prompt" and text[-1:] not in (".", "?", "!"):
        add("full-stop", "a whole prompt ends with a full stop, so TTS ends on a falling tone")
    return found
