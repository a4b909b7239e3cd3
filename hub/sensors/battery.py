"""Days left on a battery, from its voltage history.

A least-squares line through the readings (voltage against time, :func:`statistics.
linear_regression` from the standard library: no numpy in the hub for one line) gives the
rate the voltage falls at; the days left are how long that line takes from its value now to
the node's cut-off voltage, where it browns out::

    v(t) = slope * t + intercept        (t in days)
    days_left = (v(now) - cutoff_v) / -slope       when slope < 0

The line, not the last reading, is used because a cell's voltage wobbles with temperature
and load (a radio burst sags it): one cold night must not halve the estimate. A history too
short (less than ``min_span``), a flat or rising line, or a line already under the cut-off
gives no estimate (None), or 0 for the last.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from datetime import datetime, timedelta

from hub.storage.sensors import BatteryReading

DAY_S = 86_400.0


def days_left(
    readings: Sequence[BatteryReading],
    cutoff_v: float,
    now: datetime,
    min_span: timedelta = timedelta(hours=6),
) -> float | None:
    """Days until the voltage trend reaches ``cutoff_v``, counted from ``now``; None when
    the readings give no falling trend."""
    if len(readings) < 2 or readings[-1].at - readings[0].at < min_span:
        return None
    start = readings[0].at
    days = [(r.at - start).total_seconds() / DAY_S for r in readings]
    volts = [r.volts for r in readings]
    try:
        slope, intercept = statistics.linear_regression(days, volts)
    except statistics.StatisticsError:  # every reading at one moment
        return None
    if slope >= 0:
        return None
    fitted_now = slope * ((now - start).total_seconds() / DAY_S) + intercept
    return max(0.0, (fitted_now - cutoff_v) / -slope)


def replaced(previous_v: float | None, volts: float, jump_v: float = 0.3) -> bool:
    """A reading this much above the last one is a new battery (cells do not recharge by
    themselves): the old history would bend the new battery's trend, so it is dropped."""
    return previous_v is not None and volts - previous_v >= jump_v
