"""k-anonymity of shared data: no cell below k in any export, totals that reveal nothing,
and no personal data in any export. On the hub's real SQLite file, over random histories
(hypothesis), through :class:`hub.sharing.service.SharingService` and every format.
"""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from hub_helpers import example_config
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sharing_kit import SECRETS, T0, alert_row, clear, incident_row, insert

from contract.sharing_settings import SharingSettings
from hub.clock import ManualClock
from hub.safety.service import index_report
from hub.sharing.scope import Dataset
from hub.sharing.service import Period, SharingService
from hub.storage.repositories import Storage
from hub.storage.sqlite import open_sqlite_storage
from hub.storage.sqlite.sharing import sharing_for

AREAS = ["plaza", "north-gate"]
KINDS = ["intrusion", "loitering", "theft"]
HOURS = 36
PERIOD = Period(T0, T0 + timedelta(hours=HOURS))
#: Every (dataset, format) a department can ask for.
EXPORTS = [
    (Dataset.INCIDENT_COUNTS, "json"),
    (Dataset.INCIDENT_COUNTS, "csv"),
    (Dataset.INCIDENT_COUNTS, "sensorthings"),
    (Dataset.ALERT_COUNTS, "json"),
    (Dataset.ALERT_COUNTS, "csv"),
    (Dataset.ALERT_COUNTS, "sensorthings"),
    (Dataset.HOT_SPOTS, "json"),
    (Dataset.HOT_SPOTS, "geojson"),
    (Dataset.AREAS, "geojson"),
    (Dataset.SAFETY_INDEX, "json"),
    (Dataset.SAFETY_INDEX, "csv"),
]


@pytest.fixture(scope="module")
def storage(tmp_path_factory) -> Iterator[Storage]:
    store = open_sqlite_storage(Path(tmp_path_factory.mktemp("sharing")) / "hub")
    yield store
    store.close()


def service_for(storage: Storage, k: int) -> SharingService:
    config = example_config()
    clock = ManualClock(T0 + timedelta(days=30))
    settings_ = SharingSettings(k=k)
    return SharingService(
        sharing_for(storage),
        config.areas,
        settings_,
        clock,
        "Europe/London",
        lambda month: index_report(storage.incidents, config, month),
    )


def published_counts(dataset: Dataset, fmt: str, body: object) -> list[int]:
    """Every count an export publishes, whatever its shape."""
    if fmt == "csv":
        return [int(r["count"]) for r in csv.DictReader(io.StringIO(body))]
    if fmt == "sensorthings":
        return [o["result"] for s in body["value"] for o in s["Observations"]]
    if dataset == Dataset.HOT_SPOTS:
        spots = body["hot_spots"] if fmt == "json" else [f["properties"] for f in body["features"]]
        return [s["count"] for s in spots]
    if dataset in (Dataset.AREAS, Dataset.SAFETY_INDEX):
        return []  # no counts: outlines; index values (k on them: test_sharing_index.py)
    assert body["published_total"] == sum(c["count"] for c in body["cells"])
    return [c["count"] for c in body["cells"]]


event = st.tuples(
    st.sampled_from(["incident", "alert", "duplicate"]),
    st.integers(0, HOURS - 1),  # hour
    st.integers(0, 59),  # minute
    st.sampled_from(AREAS),
    st.sampled_from(KINDS),
)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(history=st.lists(event, max_size=120), k=st.integers(2, 8))
def test_no_cell_below_k_in_any_export_and_cells_at_or_over_k_are_exact(storage, history, k):
    clear(storage.alerts.database)
    incidents, alerts = [], []
    truth: dict[str, Counter] = {"incident": Counter(), "alert": Counter()}
    for source, hour, minute, area, kind in history:
        at = T0 + timedelta(hours=hour, minutes=minute)
        if source == "alert":
            alerts.append(alert_row(at, area, kind))
        else:
            outcome = "duplicate" if source == "duplicate" else None
            incidents.append(incident_row(at, area, kind, outcome=outcome))
        if source != "duplicate":  # a duplicate is the same event again: never counted
            truth[source][(T0 + timedelta(hours=hour), area, kind)] += 1
    insert(storage.alerts.database, "incidents", incidents)
    insert(storage.alerts.database, "alerts", alerts)
    service = service_for(storage, k)

    for dataset, fmt in EXPORTS:
        body = service.read(dataset, PERIOD, AREAS, fmt)
        assert all(n >= k for n in published_counts(dataset, fmt, body)), (dataset, fmt)

    for dataset, source in ((Dataset.INCIDENT_COUNTS, "incident"), (Dataset.ALERT_COUNTS, "alert")):
        cells = {(c.hour, c.area, c.kind): c.count for c in service.cells(dataset, PERIOD, AREAS)}
        assert cells == {key: n for key, n in truth[source].items() if n >= k}


def test_totals_and_hot_spots_are_sums_of_published_cells_so_subtraction_recovers_nothing(
    storage,
):
    """Cells of 5, 5 and 2 (k = 5): the 2 is left out, and so is it from every total. A
    reader who subtracts the listed cells from the total gets 0, not the hidden 2."""
    clear(storage.alerts.database)
    rows = [incident_row(T0 + timedelta(minutes=m), "plaza", "theft") for m in range(5)]
    rows += [incident_row(T0 + timedelta(hours=1, minutes=m), "plaza", "theft") for m in range(5)]
    rows += [incident_row(T0 + timedelta(hours=2, minutes=m), "plaza", "theft") for m in range(2)]
    insert(storage.alerts.database, "incidents", rows)
    service = service_for(storage, 5)
    body = service.read(Dataset.INCIDENT_COUNTS, PERIOD, AREAS, "json")
    assert [c["count"] for c in body["cells"]] == [5, 5]
    assert body["published_total"] == 10  # not 12
    spots = service.read(Dataset.HOT_SPOTS, PERIOD, AREAS, "json")["hot_spots"]
    assert sum(s["count"] for s in spots) == 10
    # Narrowing the request to the hidden hour shows nothing either.
    hidden = Period(T0 + timedelta(hours=2), T0 + timedelta(hours=3))
    assert service.read(Dataset.INCIDENT_COUNTS, hidden, ["plaza"], "json")["cells"] == []


def test_periods_are_whole_hours_and_open_hours_are_not_served(storage):
    """A half-hour window would cut a cell in two, and the difference of two overlapping
    windows would be a count below k: periods must be on the hour."""
    service = service_for(storage, 5)
    with pytest.raises(ValueError, match="on the hour"):
        service.period(None, T0 + timedelta(minutes=30), T0 + timedelta(hours=2))
    clear(storage.alerts.database)
    now = service.clock()
    insert(
        storage.alerts.database,
        "alerts",
        [alert_row(now - timedelta(minutes=m), "plaza", "intrusion") for m in range(1, 9)],
    )
    hour = now.replace(minute=0) if now.minute else now - timedelta(hours=1)
    served = service.cells(
        Dataset.ALERT_COUNTS, Period(hour - timedelta(hours=1), hour + timedelta(hours=2)), AREAS
    )
    assert all(c.hour + timedelta(hours=1) <= now for c in served)


def test_no_snapshot_face_plate_or_position_in_any_export(storage):
    """Every export of a busy history, scanned for the personal data each seeded row holds.
    The only coordinates are the site file's own area outlines and middles."""
    clear(storage.alerts.database)
    rows = [
        incident_row(T0 + timedelta(hours=h, minutes=m), area, kind)
        for h in range(6)
        for m in range(7)
        for area in AREAS
        for kind in KINDS[:2]
    ]
    insert(storage.alerts.database, "incidents", rows)
    insert(
        storage.alerts.database,
        "alerts",
        [
            alert_row(T0 + timedelta(hours=h, minutes=m), "plaza", "intrusion")
            for h in range(6)
            for m in range(9)
        ],
    )
    service = service_for(storage, 5)
    site_points = set()
    for a in example_config().areas:
        site_points |= {(p.lon, p.lat) for p in [*a.outline, a.position] if p}
    for dataset, fmt in EXPORTS:
        body = service.read(dataset, PERIOD, AREAS, fmt)
        text = body if isinstance(body, str) else json.dumps(body)
        no_counts = (Dataset.AREAS, Dataset.SAFETY_INDEX)
        assert published_counts(dataset, fmt, body) or dataset in no_counts, (dataset, fmt)
        for secret in SECRETS:
            assert secret.lower() not in text.lower(), (dataset, fmt, secret)
        for word in ("lat", "lon", "snapshot", "plate", "face", "jpeg", "caller"):
            assert f'"{word}' not in text.lower(), (dataset, fmt, word)
        if fmt == "geojson":
            for feature in body["features"]:
                assert coordinates(feature["geometry"]) <= site_points


def coordinates(geometry: dict) -> set[tuple[float, float]]:
    if geometry["type"] == "Point":
        return {tuple(geometry["coordinates"])}
    return {tuple(p) for ring in geometry["coordinates"] for p in ring}
