"""Plate text: normalising, telling a plate from other text, and fuzzy matching a read
against watchlist entries.

Shared by the gateway's plate stage (:mod:`edge.plates`, matching a read against its list)
and the hub (searching stored alerts for a plate in a subject request), so both sides agree
on what "the same plate" means. Pure Python, no I/O.

**Normalising** (:func:`normalise`): Unicode NFKC, traditional province characters to their
simplified form (the OCR model reads 粤 as 粵 about as often as not), upper case, and only
letters, digits and CJK characters kept: ``"粤C·12345"``, ``"粤c 12345"`` and ``"粵C12345"``
are all ``"粤C12345"``.

**Score** (:func:`plate_score`, 0..1): a weighted edit distance between the two normalised
plates, divided by the longer one's length and taken from 1. The weights encode what OCR
gets wrong on plates:

* a character swapped for one it is commonly confused with (:data:`CONFUSIONS`: 0/O/D/Q,
  1/I/L, 8/B, 5/S, 2/Z, 6/G) costs :data:`CONFUSION_COST` (0.2), not 1;
* characters missing (or extra) at either *end* cost :data:`END_GAP_COST` (0.6) each: a read
  that missed the province character or the last digit (the plate half out of the frame, a
  bolt over it) is a partial read of the same plate, not a different plate;
* every other substitution, insertion or deletion costs 1.

So an exact read scores 1.0, one confused character in 7 about 0.97, a read missing its
province character 0.91, one wrong digit 0.86, two wrong digits 0.71 (below the default
``watchlists.plates.fuzzy_min_score`` 0.75). The score is symmetric (read vs entry or entry
vs read), and reads shorter than :data:`MIN_CHARS` score 0 (three characters match too many
plates to mean anything).

Why not a library (rapidfuzz, python-Levenshtein)? Their weighted distances take one cost
per operation kind, not per character pair, and have no cheaper end gaps; the table here is
25 lines of dynamic programming on strings of at most 16 characters.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from typing import Protocol, TypeVar

#: The alert kind of a plate read kept for the site's plate log (``watchlists.plates.logging``
#: on): severity info, one per vehicle track; the hub files it in the plate log, not as an
#: incident. A listed plate is ``contract.watchlist.PLATE_KIND`` instead.
PLATE_READ_KIND = "plate_read"

#: Characters OCR confuses on plates; each group is one equivalence class.
CONFUSIONS: tuple[str, ...] = ("0ODQ", "1IL", "8B", "5S", "2Z", "6G")
CONFUSION_COST = 0.2
END_GAP_COST = 0.6
#: Normalised reads shorter than this match nothing.
MIN_CHARS = 4

_CLASS: dict[str, int] = {ch: i for i, group in enumerate(CONFUSIONS) for ch in group}

#: Traditional forms of the mainland province (and special) characters the recognition
#: model may output, to their simplified forms used on plates.
_SIMPLIFIED = str.maketrans(
    {
        "粵": "粤",
        "滬": "沪",
        "貴": "贵",
        "遼": "辽",
        "魯": "鲁",
        "蘇": "苏",
        "瓊": "琼",
        "閩": "闽",
        "贛": "赣",
        "晉": "晋",
        "寧": "宁",
        "陝": "陕",
        "雲": "云",
        "學": "学",
        "掛": "挂",
        "領": "领",
        "後": "后",
    }
)

_KEEP = re.compile(r"[^0-9A-Z\u3400-\u9fff]")

#: Mainland plates: a province character, a letter, then 5 (or 6, new-energy) letters or
#: digits, optionally ending in 学/警/挂/领/港/澳. Latin plates (the rest of the world):
#: 4 to 10 letters and digits with at least one digit.
_MAINLAND = re.compile(
    r"^[京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼使领][A-Z][A-Z0-9]{4,6}[学警挂领港澳]?$"
)
_LATIN = re.compile(r"^(?=[A-Z0-9]*[0-9])[A-Z0-9]{4,10}$")


def normalise(text: str) -> str:
    """The plate as compared: NFKC, simplified province characters, upper case, and only
    letters, digits and CJK characters (separators, spaces, dots and ``·`` dropped)."""
    text = unicodedata.normalize("NFKC", text).translate(_SIMPLIFIED).upper()
    return _KEEP.sub("", text)


def looks_like_plate(text: str) -> bool:
    """Is ``text`` (normalised here) shaped like a mainland or a Latin-script plate?"""
    plate = normalise(text)
    return bool(_MAINLAND.match(plate) or _LATIN.match(plate))


def _substitution(a: str, b: str) -> float:
    if a == b:
        return 0.0
    ca, cb = _CLASS.get(a), _CLASS.get(b)
    return CONFUSION_COST if ca is not None and ca == cb else 1.0


def _distance(a: str, b: str) -> float:
    """Weighted edit distance with cheaper gaps at both ends of both strings."""
    n, m = len(a), len(b)
    prev = [END_GAP_COST * j for j in range(m + 1)]  # leading gap in a
    for i in range(1, n + 1):
        cur = [END_GAP_COST * i] + [0.0] * m  # leading gap in b
        for j in range(1, m + 1):
            # A gap after the last character of either string is an end gap too.
            skip_a = END_GAP_COST if j == m else 1.0
            skip_b = END_GAP_COST if i == n else 1.0
            cur[j] = min(
                prev[j - 1] + _substitution(a[i - 1], b[j - 1]),
                prev[j] + skip_a,
                cur[j - 1] + skip_b,
            )
        prev = cur
    return prev[m]


def plate_score(read: str, entry: str) -> float:
    """How well ``read`` matches ``entry``, 0..1 (1 = the same plate once normalised)."""
    a, b = normalise(read), normalise(entry)
    if len(a) < MIN_CHARS or len(b) < MIN_CHARS:
        return 0.0
    if a == b:
        return 1.0
    return max(0.0, 1.0 - _distance(a, b) / max(len(a), len(b)))


class HasPlate(Protocol):
    """Anything with a ``plate`` (a :class:`contract.watchlist.PlateEntry`, say)."""

    @property
    def plate(self) -> str: ...


E = TypeVar("E", bound=HasPlate)


def best_match(read: str, entries: Iterable[E], min_score: float) -> tuple[E, float] | None:
    """The entry whose plate ``read`` matches best, with its score, if that reaches
    ``min_score``; the first such entry on a tie. ``None`` when nothing does."""
    best: tuple[E, float] | None = None
    for entry in entries:
        score = plate_score(read, entry.plate)
        if score >= min_score and (best is None or score > best[1]):
            best = (entry, score)
    return best
