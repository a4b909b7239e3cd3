"""contract/plates.py: normalising, plate shape, and fuzzy matching with OCR confusions and
partial reads (issue 10, "Fuzzy plate matching on the confusions above")."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from hypothesis import given
from hypothesis import strategies as st

from contract.plates import (
    CONFUSIONS,
    best_match,
    looks_like_plate,
    normalise,
    plate_score,
)

THRESHOLD = 0.75  # watchlists.plates.fuzzy_min_score's default

LETTERS = "ACEFHJKMNPRTUVWXY"  # none of the confusable characters: edits stay plain edits
DIGITS = "3479"
plates = st.builds(
    lambda prov, letter, rest: prov + letter + rest,
    st.sampled_from("京沪粤川苏浙鲁"),
    st.sampled_from(LETTERS),
    st.text(alphabet=LETTERS + DIGITS, min_size=5, max_size=5),
)


@dataclass(frozen=True)
class Entry:
    plate: str


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("粤C·12345", "粤C12345"),
        ("粤c 12345", "粤C12345"),
        ("粵C12345", "粤C12345"),  # traditional province character, as the model often reads
        ("ab-12 cd", "AB12CD"),
        ("\uff21\uff22\uff11\uff12", "AB12"),  # full-width
    ],
)
def test_normalise(text: str, expected: str) -> None:
    assert normalise(text) == expected


@pytest.mark.parametrize(
    ("text", "plate"),
    [
        ("粤C·12345", True),
        ("京A·D12345", True),  # new-energy, 6 after the letter
        ("粤B·1234学", True),
        ("AB12 CDE", True),
        ("B-MW 1234", True),
        ("STOP", False),
        ("粤C", False),
        ("停车场入口", False),
    ],
)
def test_looks_like_plate(text: str, plate: bool) -> None:
    assert looks_like_plate(text) is plate


# The confusions the issue lists (0/O/D, 1/I, 8/B, 5/S, 2/Z), plus Q, L, 6/G.
CONFUSION_TABLE = [
    ("粤C·12345", "粤C·I2345"),
    ("粤C·12345", "粤C·L2345"),
    ("粤C·10345", "粤C·1O345"),
    ("粤C·10345", "粤C·1D345"),
    ("粤C·10345", "粤C·1Q345"),
    ("粤B·12345", "粤8·12345"),
    ("粤C·12345", "粤C·1Z345"),
    ("粤C·12345", "粤C·1234S"),
    ("粤C·12365", "粤C·123G5"),
    ("AB12CDE", "A812CDE"),
    ("AB12CDE", "AB1ZCDE"),
    ("AB05SDE", "ABO5SDE"),
]


@pytest.mark.parametrize(("entry", "read"), CONFUSION_TABLE)
def test_listed_confusions_match(entry: str, read: str) -> None:
    score = plate_score(read, entry)
    assert THRESHOLD <= score < 1.0
    assert score == plate_score(entry, read)
    # One confusion costs far less than one plain wrong character.
    wrong = read.replace(next(a for a, b in zip(read, entry, strict=True) if a != b), "X", 1)
    assert plate_score(wrong, entry) < score


@pytest.mark.parametrize(
    ("entry", "read"),
    [
        ("粤C·12345", "C12345"),  # province character unread
        ("粤C·12345", "粤C1234"),  # last digit unread
        ("粤C·12345", "粤C12345X"),  # an extra character picked up beside the plate
        ("AB12CDE", "B12CDE"),
    ],
)
def test_partial_reads_match(entry: str, read: str) -> None:
    assert plate_score(read, entry) >= THRESHOLD


@pytest.mark.parametrize(
    ("entry", "read"),
    [
        ("粤C·12345", "粤C·17395"),  # two plain wrong digits
        ("粤C·12345", "沪A·12345"),  # another province and city letter
        ("粤C·12345", "345"),  # too short to mean anything
        ("AB12CDE", "XY12CDE"),
    ],
)
def test_other_plates_do_not_match(entry: str, read: str) -> None:
    assert plate_score(read, entry) < THRESHOLD


def test_confusion_classes_are_disjoint() -> None:
    chars = "".join(CONFUSIONS)
    assert len(chars) == len(set(chars))


def test_best_match_picks_the_best_entry_above_the_threshold() -> None:
    entries = [Entry("沪A·99999"), Entry("粤C·12845"), Entry("粤C·12345")]
    found = best_match("粤C·I2345", entries, THRESHOLD)
    assert found is not None and found[0] is entries[2]
    assert best_match("京A·77777", entries, THRESHOLD) is None
    assert best_match("粤C·12345", [], THRESHOLD) is None


@given(plates, st.sampled_from(["", " ", "·", "-"]), st.booleans())
def test_exact_read_scores_one(plate: str, sep: str, lower: bool) -> None:
    written = plate[:2] + sep + plate[2:]
    read = written.lower() if lower else written
    assert plate_score(read, written) == 1.0


@given(plates, st.data())
def test_confusions_are_symmetric(plate: str, data: st.DataObject) -> None:
    group = data.draw(st.sampled_from(CONFUSIONS))
    a, b = data.draw(st.permutations(group))[:2]
    pos = data.draw(st.integers(2, len(plate) - 1))
    read_a = plate[:pos] + a + plate[pos + 1 :]
    read_b = plate[:pos] + b + plate[pos + 1 :]
    assert plate_score(read_a, read_b) == plate_score(read_b, read_a) >= THRESHOLD


@given(plates, st.data())
def test_score_falls_with_each_edit(plate: str, data: st.DataObject) -> None:
    """Each further plain substitution lowers the score (never raises it)."""
    positions = data.draw(st.permutations(range(len(plate))))
    read, last = plate, 1.0
    for pos in positions[:4]:
        fresh = data.draw(st.sampled_from("甲乙丙丁戊"))  # never on a plate
        read = read[:pos] + fresh + read[pos + 1 :]
        score = plate_score(read, plate)
        assert 0.0 <= score < last
        last = score
