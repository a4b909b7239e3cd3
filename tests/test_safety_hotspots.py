"""Patrol hot spots on a hand-built history: which cells, what weight, in site time."""

from __future__ import annotations

from datetime import UTC, datetime

from hub_helpers import example_config

from contract.safety_settings import SafetySettings
from hub.domain.incidents import IncidentState, Outcome
from hub.safety.facts import Fact
from hub.safety.hotspots import hotspots

END = datetime(2026, 12, 1, tzinfo=UTC)


def config(zone: str = "UTC", **safety):
    base = example_config()
    site = base.site.model_copy(update={"timezone": zone})
    return base.model_copy(update={"site": site, "safety": SafetySettings(**safety)})


def utc(month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


def test_heaviest_cells_first_with_the_index_rule_and_weights():
    facts = [
        # Two thefts (weight 3 each) on Fridays 22:00-23:00 at the plaza: 6.
        Fact(utc(11, 27, 22, 15), "theft", "plaza"),
        Fact(utc(11, 20, 22, 50), "theft", "plaza"),
        # A robbery (5) on a Tuesday 10:00 at the north gate.
        Fact(utc(11, 24, 10, 5), "robbery", "north-gate", state=IncidentState.NEW, outcome=None),
        # Not counted: false alarms, a duplicate, a cancellation, a zero-weight crowd count.
        *[Fact(utc(11, 23, 3), "robbery", "plaza", outcome=Outcome.FALSE_ALARM)] * 3,
        Fact(utc(11, 23, 3), "robbery", "plaza", outcome=Outcome.DUPLICATE),
        Fact(utc(11, 23, 3), "robbery", "plaza", state=IncidentState.CANCELLED, outcome=None),
        Fact(utc(11, 23, 3), "crowd", "plaza"),
        # Counted but without an area: not on the layer, but said so.
        Fact(utc(11, 23, 4), "theft", None),
        # Older than 12 weeks before END (8 September): outside.
        Fact(utc(9, 1, 22), "theft", "plaza"),
    ]
    found = hotspots(facts, config(), END)
    cells = [(h.area, h.day, h.hour, h.weighted, h.incidents) for h in found.hotspots]
    assert cells == [("plaza", "Friday", 22, 6.0, 2), ("north-gate", "Tuesday", 10, 5.0, 1)]
    assert (found.counted, found.unplaced) == (4, 1)
    plaza = found.areas[0]
    assert (plaza.area, plaza.weighted, plaza.incidents) == ("plaza", 6.0, 2)
    assert plaza.grid[4][22] == 6.0 and sum(map(sum, plaza.grid)) == 6.0
    assert found.hotspots[0].position == plaza.position
    assert "not a prediction" in found.note


def test_hours_are_the_site_zones_and_the_list_is_capped():
    # 21:30 UTC on Friday 3 July is 22:30 in London (summer time): hour 22.
    facts = [Fact(utc(7, 3, 21, 30), "theft", "plaza")]
    facts += [Fact(utc(7, 6, h), "door", "north-gate") for h in range(5)]  # Monday 0..4
    found = hotspots(facts, config("Europe/London", hotspot_top=3), utc(8, 1, 0))
    assert [(h.area, h.day, h.hour) for h in found.hotspots] == [
        ("plaza", "Friday", 22),
        # Equal weights: by area, then weekday, then hour (London: 01:00..05:00 BST).
        ("north-gate", "Monday", 1),
        ("north-gate", "Monday", 2),
    ]
