"""The incident history the safety API and page tests share (example site, Europe/London;
safety defaults: every area 100 households, assumed). Its index, worked out by hand in
tests/test_safety_report.py: site 38.6 (October 58.0), plaza 37.1 (47.5), north gate 40.8
(100.0) in November 2026."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from statistics_kit import incident

NOW = datetime(2026, 12, 1, 6, 30, tzinfo=UTC)  # after the report's hour (06:00 London)


def noon(month: int, day: int) -> datetime:
    return datetime(2026, month, day, 12, tzinfo=UTC)


def sent(opened: datetime, arrive_s: float | None) -> dict:
    """Dispatched a minute after opening; on scene ``arrive_s`` after opening (None: never)."""
    on_scene = opened + timedelta(seconds=arrive_s) if arrive_s is not None else None
    return {"dispatched_at": opened + timedelta(seconds=60), "on_scene_at": on_scene}


def history_rows() -> list[dict]:
    """Rows for :func:`statistics_kit.insert`."""
    done = {"state": "resolved", "outcome": "handled"}
    return [
        incident(noon(10, 10), kind="theft", **done, **sent(noon(10, 10), 200)),  # Saturday
        incident(noon(11, 10), kind="burglary", **done, **sent(noon(11, 10), 750)),  # Tuesday
        incident(noon(11, 11), kind="door", **done),
        incident(noon(11, 20), kind="robbery", area="north-gate", state="dispatched",
                 **sent(noon(11, 20), None)),  # Friday
        incident(noon(11, 21), kind="robbery", state="resolved", outcome="false_alarm",
                 **sent(noon(11, 21), 20)),
        incident(noon(11, 22), kind="theft", state="cancelled", **sent(noon(11, 22), 20)),
        incident(noon(11, 23), kind="burglary", state="resolved", outcome="duplicate"),
        incident(noon(11, 24), kind="stream_lost", category="maintenance"),
    ]  # fmt: skip
