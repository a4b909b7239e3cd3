"""The safety index on hand-built histories, every expected value worked out in the comments.

Settings used throughout (docs/safety-index.md): households plaza 200, north-gate not given
(default 100, shown as assumed), rate_reference R = 10, response_weight w = 0.3, target 300 s,
limit 1200 s, smoothing a (alpha) = 0.5. Site time zone UTC unless a test says otherwise.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hub_helpers import example_config
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from contract.safety_settings import SafetySettings
from hub.domain.incidents import Category, IncidentState, Outcome
from hub.safety.facts import Fact
from hub.safety.months import Month
from hub.safety.service import site_index

SAFETY = SafetySettings(households={"plaza": 200})
NOV = Month(2026, 11)


def config(zone: str = "UTC"):
    base = example_config()
    site = base.site.model_copy(update={"timezone": zone})
    return base.model_copy(update={"site": site, "safety": SAFETY})


def at(month: int, day: int, hour: int = 12) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=UTC)


def sent(opened: datetime, arrive_after_s: float | None) -> dict:
    """Dispatched a minute after opening; on scene ``arrive_after_s`` after opening (None:
    never arrived)."""
    on_scene = None if arrive_after_s is None else opened + timedelta(seconds=arrive_after_s)
    return {"dispatched_at": opened + timedelta(seconds=60), "on_scene_at": on_scene}


def history() -> list[Fact]:
    oct_theft = at(10, 5)
    nov_burglary = at(11, 10)
    nov_robbery = at(11, 20)
    return [
        # October, plaza: a theft (weight 3), unit there in 200 s (≤ target: 100 points).
        Fact(oct_theft, "theft", "plaza", **sent(oct_theft, 200)),
        # November, plaza: a burglary (4), arrival 750 s: 100·(1200-750)/900 = 50 points;
        # a door left open (1), no unit sent.
        Fact(nov_burglary, "burglary", "plaza", **sent(nov_burglary, 750)),
        Fact(at(11, 11), "door", "plaza"),
        # November, north gate: a robbery (5); the unit never arrived: 0 points.
        Fact(nov_robbery, "robbery", "north-gate", state=IncidentState.ON_SCENE, outcome=None,
             **sent(nov_robbery, None)),
    ]  # fmt: skip


def test_plaza_by_hand():
    report = site_index(history(), config(), NOV, SAFETY)
    plaza = next(a for a in report.areas if a.area == "plaza")
    # October: W = 3, r = 1000·3/200 = 15, I = 100/(1 + 15/10) = 40, P = 100.
    #   index = 0.7·40 + 0.3·100 = 58.0
    # November: W = 4 + 1 = 5, r = 25, I = 100/3.5 = 28.571…, P = 50.
    #   S_I = 0.5·28.571 + 0.5·40 = 34.286, S_P = 0.5·50 + 0.5·100 = 75
    #   index = 0.7·34.286 + 0.3·75 = 24.0 + 22.5 = 46.5
    assert plaza.series == [("2026-10", 58.0), ("2026-11", 46.5)]
    assert (plaza.index, plaza.previous_index, plaza.change) == (46.5, 58.0, -11.5)
    c = plaza.current.components
    assert (c.counted, c.weighted, c.households, c.households_assumed) == (2, 5.0, 200, 0)
    assert (c.rate_per_1000, c.incident_score, c.response_score) == (25.0, 28.571, 50.0)
    assert (c.dispatched, c.arrived) == (1, 1)
    assert (c.incident_smoothed, c.response_smoothed) == (34.286, 75.0)
    moves = {m.component: (m.previous, m.current, m.change) for m in plaza.moves}
    assert moves["rate_per_1000"] == (15.0, 25.0, 10.0)
    assert moves["response_score"] == (100.0, 50.0, -50.0)
    assert moves["index"] == (58.0, 46.5, -11.5)


def test_north_gate_by_hand_with_assumed_households():
    report = site_index(history(), config(), NOV, SAFETY)
    gate = next(a for a in report.areas if a.area == "north-gate")
    # October: nothing; I = 100, no dispatch so S_P = 100: index 100.
    # November: W = 5, H = 100 (assumed), r = 50, I = 100/6 = 16.667;
    #   S_I = 0.5·16.667 + 0.5·100 = 58.333; first dispatch: S_P = P = 0.
    #   index = 0.7·58.333 + 0.3·0 = 40.833 → 40.8
    assert gate.series == [("2026-10", 100.0), ("2026-11", 40.8)]
    c = gate.current.components
    assert (c.households, c.households_assumed, c.dispatched, c.arrived) == (100, 1, 1, 0)
    assert c.response_score == 0.0


def test_site_by_hand():
    report = site_index(history(), config(), NOV, SAFETY)
    # H = 200 + 100 = 300. October: W = 3, r = 10, I = 50, P = 100: 0.7·50 + 30 = 65.0
    # November: W = 10, r = 33.333, I = 100/4.333 = 23.077, S_I = 36.538;
    #   P = mean(50, 0) = 25, S_P = 0.5·25 + 0.5·100 = 62.5
    #   index = 0.7·36.538 + 0.3·62.5 = 25.577 + 18.75 = 44.327 → 44.3
    assert report.site.series == [("2026-10", 65.0), ("2026-11", 44.3)]
    assert report.site.current.components.households_assumed == 1
    assert "not a prediction" in report.note


def junk(kind: str, opened: datetime, area: str, reason: str, arrive_s: float) -> Fact:
    """An incident that must not count: each reason, with a (fast) unit on scene so that,
    if it leaked into the response component, it would *improve* it."""
    common = {"kind": kind, "area": area, **sent(opened, arrive_s)}
    return {
        "false_alarm": Fact(opened, outcome=Outcome.FALSE_ALARM, **common),
        "duplicate": Fact(opened, outcome=Outcome.DUPLICATE, **common),
        "cancelled": Fact(opened, state=IncidentState.CANCELLED, outcome=None, **common),
        "maintenance": Fact(opened, category=Category.MAINTENANCE, **common),
    }[reason]


def values(report) -> list:
    places = [report.site, *report.areas]
    return [(p.series, p.current.components.model_dump(exclude={"excluded"})) for p in places]


@pytest.mark.parametrize("reason", ["false_alarm", "duplicate", "cancelled", "maintenance"])
def test_each_excluded_kind_counts_zero_never_negative(reason):
    base = site_index(history(), config(), NOV, SAFETY)
    extra = [junk("robbery", at(11, d), "plaza", reason, 30) for d in (2, 3, 4)]
    # One in September too: it must not pull the start of the smoothing earlier.
    extra.append(junk("theft", at(9, 15), "north-gate", reason, 30))
    report = site_index(history() + extra, config(), NOV, SAFETY)
    assert values(report) == values(base)
    plaza = next(a for a in report.areas if a.area == "plaza")
    assert plaza.current.components.excluded[reason] == 3
    assert report.site.current.components.excluded[reason] == 3


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["false_alarm", "duplicate", "cancelled", "maintenance"]),
            st.sampled_from(["robbery", "theft", "door", "crowd"]),
            st.integers(0, 24 * 120),  # hours after 1 August: August to November
            st.sampled_from(["plaza", "north-gate"]),
            st.floats(0, 3000),
        ),
        max_size=25,
    )
)
def test_no_mix_of_false_alarms_cancellations_duplicates_moves_the_index(extra):
    base = values(site_index(history(), config(), NOV, SAFETY))
    facts = [junk(k, at(8, 1) + timedelta(hours=h), a, r, s) for r, k, h, a, s in extra]
    assert values(site_index(history() + facts, config(), NOV, SAFETY)) == base


def test_zero_weight_kinds_do_not_count():
    report = site_index([*history(), Fact(at(11, 3), "crowd", "plaza")], config(), NOV, SAFETY)
    plaza = next(a for a in report.areas if a.area == "plaza")
    assert plaza.current.components.excluded["zero_weight"] == 1
    assert plaza.index == 46.5


def test_no_counted_incident_ever_is_100():
    report = site_index([], config(), NOV, SAFETY)
    assert report.site.series == [("2026-11", 100.0)]
    assert report.site.change is None


def test_weights_are_never_negative():
    with pytest.raises(ValidationError, match="never negative"):
        SafetySettings(weights={"theft": -1})
    with pytest.raises(ValidationError, match="response_limit_s"):
        SafetySettings(response_target_s=600, response_limit_s=600)


def test_months_are_the_site_zones_months():
    # London leaves summer time on 25 October 2026: October starts at 23:00 UTC on
    # 30 September (BST) and ends at 00:00 UTC on 1 November (GMT).
    start, end = Month(2026, 10).bounds("Europe/London")
    assert (start, end) == (
        datetime(2026, 9, 30, 23, tzinfo=UTC),
        datetime(2026, 11, 1, tzinfo=UTC),
    )
    # An incident at 23:30 UTC on 31 October is 31 October in London (GMT): October's.
    late = Fact(datetime(2026, 10, 31, 23, 30, tzinfo=UTC), "theft", "plaza")
    report = site_index([late], config("Europe/London"), Month(2026, 10), SAFETY)
    assert report.site.current.components.counted == 1
    assert Month.parse("2026-11") == NOV
    with pytest.raises(ValueError, match="YYYY-MM"):
        Month.parse("2026-13")
