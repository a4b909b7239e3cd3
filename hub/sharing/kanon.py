"""Small-cell suppression (k-anonymity) for the count datasets, and the only totals derived
from them.

A *cell* is one count: events of one ``kind`` in one ``area`` during one hour. A cell
whose count is at least ``k`` is published; a cell below ``k`` is **left out**, exactly like
a cell with no events. A reader therefore cannot tell "none" from "a few": the list says
only "these cells had k or more".

Recovery by subtraction is the classic leak of suppression: publish a total of 12 beside
cells 5 and 5, and the hidden cell is 2. Here every total, hot spot or series is computed
from the *published* cells only (:func:`published_total`, :mod:`hub.sharing.formats`), so
it carries nothing beyond the cells themselves and a difference of two published numbers
is always a sum of published cells. Cells are fixed (area x kind x clock hour) whatever
period or areas a request names, so two overlapping requests see the same cells the same
way; there is no "all kinds" or "all areas" cell to subtract from. Only *closed* hours are
served (:func:`last_closed_hour`), so nobody watches a live cell tick from k to k+1.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, order=True)
class Cell:
    """One published count: ``hour`` is the start of a UTC clock hour."""

    hour: datetime
    area: str
    kind: str
    count: int


def suppress(cells: Iterable[Cell], k: int) -> list[Cell]:
    """The cells that may be published (count >= k), in (hour, area, kind) order.
    Zero cells are dropped too: absent means "fewer than k", whatever the reason."""
    if k < 2:
        raise ValueError("k-anonymity needs k >= 2")
    return sorted(c for c in cells if c.count >= k)


def published_total(cells: Iterable[Cell]) -> int:
    """A total that is safe beside the cells: the sum of published cells only (a lower
    bound of the true total, and said so wherever it is shown)."""
    return sum(c.count for c in cells)


def last_closed_hour(now: datetime) -> datetime:
    """The end of the last full clock hour before ``now``: nothing later is served."""
    return now.replace(minute=0, second=0, microsecond=0)
