"""The safety API over real HTTP into real SQLite on a manual clock: the index with its
components, the hot spots, the monthly reports the hub writes, roles and bad months.

History: tests/safety_kit.py (the same as tests/test_safety_report.py, where the index values
are worked out by hand).
"""

from __future__ import annotations

import pytest
from hub_helpers import serve_api
from safety_kit import NOW, history_rows
from statistics_kit import insert

from hub.clock import ManualClock
from hub.safety.schedule import MonthlyReportWorker


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    running = serve_api(tmp_path_factory.mktemp("safety") / "hub", clock=ManualClock(NOW))
    insert(running.storage.incidents.database, history_rows())
    yield running
    running.close()


def test_the_index_with_its_components_and_moves(hub):
    r = hub.client("officer").get("/api/safety/index", params={"month": "2026-11"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["month"], body["timezone"], body["formula"]) == (
        "2026-11", "Europe/London", "docs/safety-index.md",
    )  # fmt: skip
    assert "not a prediction" in body["note"]
    assert (body["site"]["index"], body["site"]["previous_index"]) == (38.6, 58.0)
    plaza, gate = body["areas"]
    assert (plaza["area"], plaza["index"], plaza["change"]) == ("plaza", 37.1, -10.4)
    assert gate["series"] == [["2026-10", 100.0], ["2026-11", 40.8]]
    c = plaza["current"]["components"]
    assert (c["counted"], c["weighted"], c["households"], c["households_assumed"]) == (2, 5, 100, 1)
    assert c["excluded"] == {
        "maintenance": 1, "cancelled": 1, "false_alarm": 1, "duplicate": 1, "zero_weight": 0,
    }  # fmt: skip
    moves = {m["component"]: m for m in plaza["moves"]}
    assert moves["rate_per_1000"]["change"] == 20.0  # 30 → 50 per 1,000 households
    assert body["settings"]["weights"]["robbery"] == 5.0  # the constants in force


def test_this_month_by_default_and_a_bad_month_is_a_422(hub):
    officer = hub.client("officer")
    assert officer.get("/api/safety/index").json()["month"] == "2026-12"
    r = officer.get("/api/safety/index", params={"month": "2026-13"})
    assert r.status_code == 422 and "use YYYY-MM" in r.text
    assert hub.client("viewer").get("/api/safety/index").status_code == 403


def test_hot_spots_by_area_and_hour_of_week(hub):
    r = hub.client("officer").get("/api/safety/hotspots", params={"end": "2026-12-01T00:00:00Z"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert "not a prediction" in body["note"]
    cells = [(h["area"], h["day"], h["hour"], h["weighted"]) for h in body["hotspots"]]
    assert cells == [
        ("north-gate", "Friday", 12, 5.0),  # 12:00 GMT
        ("plaza", "Tuesday", 12, 4.0),
        ("plaza", "Saturday", 13, 3.0),  # 12:00 UTC on 10 October is 13:00 BST
        ("plaza", "Wednesday", 12, 1.0),
    ]
    assert body["areas"][0]["position"] == {"lat": 51.485932, "lon": -0.124114}


def test_the_hub_writes_the_monthly_report_and_supervisors_download_it(hub):
    supervisor = hub.client("supervisor")
    listed = supervisor.get("/api/safety/reports").json()
    assert listed["reports"] == [] and listed["schedule"] == {"enabled": True, "day": 1, "hour": 6}
    worker = next(w for w in hub.service.workers if isinstance(w, MonthlyReportWorker))
    assert worker.tick() is not None  # the clock is past 06:00 on 1 December
    assert [r["month"] for r in supervisor.get("/api/safety/reports").json()["reports"]] == [
        "2026-11"
    ]
    r = supervisor.get("/api/safety/reports/2026-11")
    assert r.status_code == 200
    assert r.headers["content-disposition"] == 'attachment; filename="safety-report-2026-11.html"'
    assert "<b>38.6</b>" in r.text
    assert supervisor.get("/api/safety/reports/2026-10").status_code == 404
    assert supervisor.get("/api/safety/reports/2026-1x").status_code == 422
    assert hub.client("officer").get("/api/safety/reports").status_code == 403
