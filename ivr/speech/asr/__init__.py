"""Speech recognisers behind one interface (:class:`AsrEngine` in ``base``).

- ``whisper.WhisperEngine``: faster-whisper tiny.en, the default for recordings and menus;
- ``vosk.VoskEngine``: streaming, when the operator configures a Vosk model directory;
- ``sphinx.SphinxGrammarEngine``: tiny keyword grammars; ``SphinxLargeVocabularyEngine`` is
  only the benchmark baseline;
- ``fake.FakeAsrEngine``: scripted answers for tests of code that uses an engine.

Engines import their libraries lazily, so importing this package loads no model.
"""

from ivr.speech.asr.base import AsrEngine, Segment, Transcript

__all__ = ["AsrEngine", "Segment", "Transcript"]
