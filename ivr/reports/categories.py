"""What a caller can report, as the category menu (keys and spoken words) and its values.

The menu is data for :mod:`ivr.speech.menu`: each choice has its key, the label the prompt
says, and other words callers use. Synonyms are chosen not to overlap, so "stolen car"
cannot also match criminal damage; "theft" itself is a poor spoken word at 8 kHz
(ARCHITECTURE "Speech, measured here"), hence "stolen" and "stole" beside it.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from ivr.speech.menu import Menu, MenuChoice


class Category(StrEnum):
    THEFT = "theft"
    CRIMINAL_DAMAGE = "criminal_damage"
    ANTI_SOCIAL_BEHAVIOUR = "anti_social_behaviour"
    LOST_OR_FOUND_PROPERTY = "lost_or_found_property"
    FRAUD = "fraud"
    OTHER = "other"


#: How the category was chosen; "default" when the caller never managed to choose.
ChosenBy = Literal["key", "speech", "default"]

CATEGORY_MENU = Menu(
    (
        MenuChoice("1", "theft", ("stolen", "stole", "steal", "burglary", "shoplifting")),
        MenuChoice("2", "criminal damage", ("damage", "damaged", "vandalism", "graffiti")),
        MenuChoice(
            "3",
            "anti-social behaviour",
            ("antisocial behaviour", "anti social", "antisocial", "nuisance"),
        ),
        MenuChoice(
            "4", "lost or found property", ("lost property", "found property", "lost", "found")
        ),
        MenuChoice("5", "fraud", ("scam", "scammed", "fraudster")),
        MenuChoice("6", "something else", ("other", "else")),
    )
)

_BY_KEY = {
    "1": Category.THEFT,
    "2": Category.CRIMINAL_DAMAGE,
    "3": Category.ANTI_SOCIAL_BEHAVIOUR,
    "4": Category.LOST_OR_FOUND_PROPERTY,
    "5": Category.FRAUD,
    "6": Category.OTHER,
}


def category_for_key(key: str) -> Category:
    """The category of a menu key (KeyError for a key not on the menu)."""
    return _BY_KEY[key]


def menu_context() -> tuple[str, ...]:
    """The words given to the recogniser for a spoken menu answer: the labels only, since
    a long prompt of synonyms makes Whisper echo them back in silence."""
    return tuple(choice.label for choice in CATEGORY_MENU.choices)
