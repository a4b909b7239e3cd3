"""Alert ids: UUID version 7, so ids made one after another sort together (the hub's id
index then grows at its end) while staying random enough to be unguessable and unique."""

from __future__ import annotations

import re
import uuid

from contract.ids import new_alert_id
from contract.protocol import (
    HEX_ID_PATTERN,
)


def test_alert_ids_are_uuid7_in_the_protocols_hex_form():
    ids = [new_alert_id() for _ in range(1000)]
    assert all(re.fullmatch(HEX_ID_PATTERN, i) for i in ids)
    parsed = [uuid.UUID(i) for i in ids]
    assert {u.version for u in parsed} == {7}
    assert {u.variant for u in parsed} == {uuid.RFC_4122}
    assert len(set(ids)) == len(ids)


def test_ids_made_later_sort_after_earlier_ones_by_their_millisecond():
    first = new_alert_id()
    # The next millisecond: the time prefix (48 bits, 12 hex digits) must grow.
    later = first
    while later[:12] == first[:12]:
        later = new_alert_id()
    assert later > first
    assert int(later[:12], 16) > int(first[:12], 16)


def test_ids_of_one_millisecond_still_differ_in_74_random_bits():
    same_ms: list[str] = []
    while len(same_ms) < 2:
        same_ms = [new_alert_id() for _ in range(50)]
        same_ms = [i for i in same_ms if i[:12] == same_ms[0][:12]]
    randoms = {int(i, 16) & ((1 << 80) - 1) for i in same_ms}
    assert len(randoms) == len(same_ms)
