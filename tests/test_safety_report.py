"""The monthly report: incidents worked through the real incident service into a real SQLite
file, the ``villagewatch report monthly`` command, and the hub's scheduled writer.

The example site (Europe/London, safety defaults: every area 100 households, assumed):

* October, plaza: a theft, unit on scene after 200 s.
  W = 3, r = 30, I = 100/(1 + 3) = 25, P = 100: index 0.7·25 + 0.3·100 = 47.5
* November, plaza: a burglary on scene after 750 s (P = 50), a door (no unit); and a false
  alarm, a cancellation and a duplicate that must not count.
  W = 5, r = 50, I = 16.667, S_I = 20.833, S_P = 75: 14.583 + 22.5 = 37.1
* November, north gate: a robbery, unit sent, never arrived (P = 0).
  I = 16.667, S_I = 0.5·16.667 + 0.5·100 = 58.333, S_P = 0: 40.8
* Site, H = 200. October: r = 15, I = 40, P = 100: 58.0. November: W = 10, r = 50,
  S_I = 0.5·16.667 + 0.5·40 = 28.333, P = mean(50, 0) = 25, S_P = 62.5: 19.833 + 18.75 = 38.6
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from hub_helpers import REPO, example_config
from incident_kit import open_desk

from hub.clock import ManualClock
from hub.domain.incidents import Action, Outcome
from hub.safety.months import Month
from hub.safety.schedule import MonthlyReportWorker, ReportShelf
from hub.safety.service import index_report
from villagewatch.cli import main

D, R, X, C = Action.DISPATCH, Action.ARRIVE, Action.RESOLVE, Action.CANCEL
CONFIG = REPO / "config" / "site.example.yaml"


def work(desk, opened: datetime, kind: str, area: str, steps, outcome=Outcome.HANDLED):
    desk.clock.advance(seconds=(opened - desk.clock()).total_seconds())
    made = desk.call(kind=kind, location={"area": area})
    for seconds, action in steps:
        desk.clock.advance(seconds=seconds)
        made = desk.service.act(made.id, action, "ana", outcome=outcome if action is X else None)


@pytest.fixture(scope="module")
def hub_dir(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("report")
    desk = open_desk(folder, datetime(2026, 10, 1, tzinfo=UTC))

    def day(month: int, d: int) -> datetime:
        return datetime(2026, month, d, 12, tzinfo=UTC)

    work(desk, day(10, 10), "theft", "plaza", [(60, D), (140, R), (600, X)])
    work(desk, day(11, 10), "burglary", "plaza", [(60, D), (690, R), (600, X)])
    work(desk, day(11, 11), "door", "plaza", [(120, X)])
    work(desk, day(11, 20), "robbery", "north-gate", [(60, D)])
    work(desk, day(11, 21), "robbery", "plaza", [(10, D), (10, R), (5, X)], Outcome.FALSE_ALARM)
    work(desk, day(11, 22), "theft", "plaza", [(10, D), (10, R), (5, C)])
    work(desk, day(11, 23), "burglary", "plaza", [(10, D), (10, R), (5, X)], Outcome.DUPLICATE)
    desk.storage.close()
    return folder / "hub"


def test_the_index_read_from_sqlite_is_the_hand_computed_one(hub_dir):
    from hub.storage.sqlite import open_sqlite_storage

    storage = open_sqlite_storage(hub_dir)
    try:
        report = index_report(storage.incidents, example_config(), Month(2026, 11))
    finally:
        storage.close()
    got = {p.area: p.series for p in [report.site, *report.areas]}
    assert got == {
        None: [("2026-10", 58.0), ("2026-11", 38.6)],
        "plaza": [("2026-10", 47.5), ("2026-11", 37.1)],
        "north-gate": [("2026-10", 100.0), ("2026-11", 40.8)],
    }
    excluded = report.areas[0].current.components.excluded
    assert (excluded["false_alarm"], excluded["cancelled"], excluded["duplicate"]) == (1, 1, 1)


def test_the_command_writes_the_printable_report(hub_dir, tmp_path, capsys):
    out = tmp_path / "report.html"
    argv = ["report", "monthly", "--config", str(CONFIG), "--month", "2026-11"]
    assert main([*argv, "--out", str(out), "--data-dir", str(hub_dir)]) == 0
    assert str(out) in capsys.readouterr().out
    html = out.read_text(encoding="utf-8")
    assert "Riverside Compound — monthly safety report, 2026-11" in html
    for index in ("<b>38.6</b>", "<b>37.1</b>", "<b>40.8</b>"):  # site, plaza, north gate
        assert index in html
    assert "Central plaza and lawn" in html and "North gate" in html
    assert "not a prediction of crime" in html
    assert "alert → acknowledged" in html and "alert → on scene (mean)" in html  # response
    assert "<td>2026-10</td>" not in html and "<th scope='col'>2026-10</th>" in html  # trend
    assert "<td>burglary</td><td>4.0</td><td>1</td><td>0</td>" in html  # kinds this/last month
    assert "@media print" in html and "@page" in html
    assert "<script" not in html and "http" not in html  # opens offline, nothing fetched


def test_a_bad_month_exits_2_with_a_clear_message(hub_dir, tmp_path, capsys):
    argv = ["report", "monthly", "--config", str(CONFIG), "--out", str(tmp_path / "r.html")]
    with pytest.raises(SystemExit) as stop:
        main([*argv, "--month", "2026-13"])
    assert stop.value.code == 2
    assert "'2026-13' is not a month: use YYYY-MM, e.g. 2026-11" in capsys.readouterr().err
    assert main([*argv, "--month", "2026-11", "--data-dir", str(tmp_path / "none")]) == 2
    assert "no hub database here" in capsys.readouterr().err
    assert not (tmp_path / "r.html").exists()


def test_the_hub_writes_last_months_report_on_schedule(hub_dir, tmp_path):
    from hub.storage.sqlite import open_sqlite_storage

    storage = open_sqlite_storage(hub_dir)
    # 1 December 05:59 in London (GMT = UTC): before safety.report.hour 6.
    clock = ManualClock(datetime(2026, 12, 1, 5, 59, tzinfo=UTC))
    shelf = ReportShelf(tmp_path / "reports")
    worker = MonthlyReportWorker(storage.incidents, example_config(), shelf, clock)
    try:
        assert worker.tick() is None and shelf.list() == []
        clock.advance(minutes=1)
        written = worker.tick()
        assert written == shelf.path(Month(2026, 11))
        assert "<b>38.6</b>" in written.read_text(encoding="utf-8")
        assert worker.tick() is None  # written once
        assert [r.month for r in shelf.list()] == ["2026-11"]
    finally:
        storage.close()


def test_any_repository_gives_the_same_facts_page_by_page(hub_dir, monkeypatch):
    """The lean SQL read and the repository's pages (what a non-SQLite repository gets)
    agree, row for row; pages of 2 so the cursor is followed."""
    from hub.safety import facts
    from hub.storage.sqlite import open_sqlite_storage

    storage = open_sqlite_storage(hub_dir)

    class PagesOnly:  # no .database: read through find()'s pages
        find = storage.incidents.find

    monkeypatch.setattr(facts, "PAGE", 2)
    start, end = datetime(2026, 10, 1, tzinfo=UTC), datetime(2026, 12, 1, tzinfo=UTC)
    try:
        lean = facts.read_facts(storage.incidents, start, end)
        assert len(lean) == 7
        assert facts.read_facts(PagesOnly(), start, end) == lean
    finally:
        storage.close()
