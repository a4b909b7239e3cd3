"""The occupancy dataset through the real hub API (real SQLite, real event-security store):
a department token of the event's area reads each ring's hourly peak and mean; an hour whose
peak is below k is in no format; a token of another area sees nothing of the event."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import timedelta

import pytest
from event_kit import NOW, site_config
from hub_helpers import ApiHub, serve_api

from contract.siteconfig import Area
from hub.clock import ManualClock

START = NOW - timedelta(hours=3)  # the fireworks event (event_kit) is in area "plaza"


@pytest.fixture
def hub(tmp_path) -> Iterator[ApiHub]:
    config = site_config()
    lane = Area(id="lane", name="Back lane")  # a second area, with no event
    config = config.model_copy(update={"areas": [*config.areas, lane]})
    api = serve_api(tmp_path / "hub", clock=ManualClock(NOW), config=config)
    yield api
    api.close()


def samples(hub: ApiHub, rows: list[tuple[str, int, int, float | None]]) -> None:
    """(ring, minutes after START, occupancy, per m²) rows, as the hub's sampler stores them."""
    database = sqlite3.connect(hub.storage.data_dir / "hub.sqlite3")
    with database:
        database.executemany(
            "INSERT INTO event_samples VALUES ('fireworks', ?, ?, ?, ?, ?, 1, '[]')",
            [
                (ring, (START + timedelta(minutes=m)).isoformat(), n, n, per_m2)
                for ring, m, n, per_m2 in rows
            ],
        )
    database.close()


def token(hub: ApiHub, area: str) -> str:
    admin = hub.client("admin")
    account = admin.post(
        "/api/sharing/accounts", json={"name": "Urban management", "department": "urban_management"}
    ).json()
    body = {
        "account_id": account["id"],
        "agreement": "DSA-2026-020 (event crowding)",
        "datasets": ["occupancy"],
        "areas": [area],
        "data_from": (NOW - timedelta(days=1)).isoformat(),
        "data_until": NOW.isoformat(),
        "expires_at": (NOW + timedelta(days=30)).isoformat(),
        "rate_per_min": 60,
    }
    r = admin.post("/api/sharing/tokens", json=body)
    assert r.status_code == 201, r.text
    return r.json()["token"]


def read(hub: ApiHub, secret: str, fmt: str, area: str = "plaza"):
    window = {"start": (NOW - timedelta(days=1)).isoformat(), "end": NOW.isoformat()}
    params = {"dataset": "occupancy", "format": fmt, "area": area, **window}
    return hub.client(token=secret).get("/api/share/v1/data", params=params)


def test_hourly_peaks_leave_and_hours_below_k_do_not(hub):
    samples(
        hub,
        [
            ("core", 5, 30, 1.2), ("core", 20, 42, 1.6), ("core", 40, 36, None),  # hour 0
            ("core", 65, 4, 0.1), ("core", 90, 3, 0.1),  # hour 1: peak 4 < k = 5
            ("control", 130, 7, None),  # hour 2
        ],
    )  # fmt: skip
    secret = token(hub, "plaza")
    r = read(hub, secret, "json")
    assert r.status_code == 200, r.text
    rows = [
        (x["ring"], x["hour"], x["peak"], x["mean"], x["peak_per_m2"]) for x in r.json()["rows"]
    ]
    assert rows == [  # per event, by ring then hour
        ("control", (START + timedelta(hours=2)).isoformat(), 7, 7.0, None),
        ("core", START.isoformat(), 42, 36.0, 1.6),
    ]
    csv = read(hub, secret, "csv").text
    assert (
        "fireworks,plaza,core" in csv and str((START + timedelta(hours=1)).isoformat()) not in csv
    )
    streams = read(hub, secret, "sensorthings").json()["value"]
    results = {s["@iot.id"]: [o["result"] for o in s["Observations"]] for s in streams}
    assert results == {"occupancy:fireworks:control": [7], "occupancy:fireworks:core": [42]}
    assert all(o["result"] >= 5 for s in streams for o in s["Observations"])


def test_a_token_of_another_area_sees_nothing_of_the_event(hub):
    samples(hub, [("core", 5, 30, None)])
    r = read(hub, token(hub, "lane"), "json", area="lane")
    assert r.status_code == 200, r.text
    assert r.json()["rows"] == []
    # ...and asking for the event's area is outside its scope.
    assert read(hub, token(hub, "lane"), "json", area="plaza").status_code == 403
