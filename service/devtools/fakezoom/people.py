"""Deterministic people: the name, email and IDs of person `p` of a seeded population.

Names deliberately mix what breaks naive storage: Latin diacritics (composed and, in one case,
decomposed NFD), Greek, Cyrillic, Arabic (right-to-left), CJK, emoji with ZWJ sequences,
apostrophes and commas. Every function is pure: the same (seed, p) always gives the same person.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from functools import lru_cache
from typing import NamedTuple

FIRST_NAMES: tuple[str, ...] = (
    "Zoë",
    "Jürgen",
    "José",
    "Åsa",
    "Łukasz",
    "Σοφία",
    "Иван",
    "山田",
    "Nguyễn",
    "محمد",
    "Rene\u0301e",  # decomposed (NFD) e + combining acute: must round-trip byte for byte.
    "Ada",
    "Siobhán",
    "Søren",
    "李",
    "Chloé",
    "Ravi",
    "👩\u200d💻 Dev",
)
LAST_NAMES: tuple[str, ...] = (
    "Exämple",
    "Müller",
    "O'Brien",
    "García",
    "Kowalczyk",
    "Παπαδοπούλου",
    "Смирнова",
    "太郎",
    "Thị Hương",
    "العلي",
    "Smith, Jr.",
    "Lovelace",
    "Ní Bhriain",
    "Kierkegård",
    "小龍",
    "Dupont 🎉",
    "Iyer",
    "Tester",
)
#: Zoom's name for a Q&A or poll author when the host enabled anonymous mode.
ANONYMOUS_NAME = "Anonymous Attendee"


_MASK = (1 << 64) - 1


def _mix(x: int) -> int:
    """One splitmix64 step: cheap, well-spread, and the same in every process."""
    x = (x + 0x9E3779B97F4A7C15) & _MASK
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK
    return x ^ (x >> 31)


@lru_cache(maxsize=1024)
def _salt(salt: str) -> int:
    return int.from_bytes(hashlib.blake2b(salt.encode(), digest_size=8).digest(), "big")


def digest(seed: int, salt: str, *parts: int) -> int:
    """A stable 64-bit hash of (seed, salt, parts): the world's only source of "randomness".

    Hashing a tuple of ints is deterministic (only str and bytes hashes are salted per process);
    splitmix64 then spreads the bits, as tuple hashes of consecutive ints are too regular.
    """
    return _mix(hash((seed, _salt(salt), *parts)) & _MASK)


_URLSAFE = bytes.maketrans(b"+/", b"-_")


def zoom_id(seed: int, salt: str, *parts: int) -> str:
    """A 22-character URL-safe base64 ID, like Zoom's participant and registrant IDs."""
    a = digest(seed, salt, *parts)
    raw = a.to_bytes(8, "big") + _mix(a ^ 0x5BD1E995).to_bytes(8, "big")
    return binascii.b2a_base64(raw, newline=False)[:22].translate(_URLSAFE).decode()


def make_uuid(seed: int, *, needs_double_encoding: bool = False) -> str:
    """A 24-character instance UUID in Zoom's standard-base64 form (it may contain `/` and `+`).

    With `needs_double_encoding`, the UUID begins with `/` and contains `//`, so a client must
    URL-encode it twice.
    """
    raw = hashlib.blake2b(f"uuid:{seed}".encode(), digest_size=16).digest()
    text = base64.b64encode(raw).decode()
    if needs_double_encoding:
        return "/" + text[1:8] + "//" + text[10:]
    if text.startswith("/"):
        text = "+" + text[1:]
    return text.replace("//", "/+")


class Person(NamedTuple):
    """Person `number` of a seeded population: the same in every row that mentions them.

    A NamedTuple, not a frozen dataclass: rows build one each, and this is 4x cheaper."""

    seed: int
    number: int
    first_name: str
    last_name: str
    email: str
    #: Zoom's participant `id`: the user's ID, empty for a guest not signed in to Zoom.
    participant_id: str
    user_id: str
    guest: bool

    @property
    def name(self) -> str:
        return f"{self.first_name} {self.last_name} {self.number}"

    @property
    def registrant_id(self) -> str:
        return zoom_id(self.seed, "registrant", self.number)


def person(seed: int, index: int) -> Person:
    h = digest(seed, "person", index)
    guest = (h >> 16) % 7 == 0
    return Person(
        seed=seed,
        number=index,
        first_name=FIRST_NAMES[h % len(FIRST_NAMES)],
        last_name=LAST_NAMES[(h >> 8) % len(LAST_NAMES)],
        # Zoom blanks the email of people outside the host's account; guests stand in for them.
        email="" if guest else f"person{index}.{h % 1000:03d}@example.com",
        participant_id="" if guest else zoom_id(seed, "user", index),
        user_id=str(16_778_240 + index),
        guest=guest,
    )
