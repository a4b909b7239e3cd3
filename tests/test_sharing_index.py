"""The safety index as a shared dataset (hub.sharing.index_dataset over the index
helper's hub.safety.service.index_report), on the hub's real SQLite file: the value only,
an area's month left out when fewer than k incidents (but some) are behind it, and the
site's value left out whenever it could give a hidden area away by subtraction."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hub_helpers import example_config
from sharing_kit import clear, incident_row, insert

from contract.sharing_settings import SharingSettings
from hub.clock import ManualClock
from hub.safety.service import index_report
from hub.sharing.scope import Dataset
from hub.sharing.service import Period, SharingService
from hub.storage.repositories import Storage
from hub.storage.sqlite import open_sqlite_storage
from hub.storage.sqlite.sharing import sharing_for

MARCH = Period(datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 4, 1, tzinfo=UTC))
ALL = ["plaza", "north-gate"]


@pytest.fixture
def storage(tmp_path: Path) -> Iterator[Storage]:
    store = open_sqlite_storage(tmp_path / "hub")
    yield store
    store.close()


def service_for(storage: Storage) -> SharingService:
    config = example_config()
    return SharingService(
        sharing_for(storage),
        config.areas,
        SharingSettings(k=5),
        ManualClock(datetime(2026, 4, 10, tzinfo=UTC)),
        config.site.timezone,
        lambda month: index_report(storage.incidents, config, month),
    )


def thefts(area: str | None, n: int) -> list[dict]:
    start = datetime(2026, 3, 10, 12, tzinfo=UTC)
    return [incident_row(start + timedelta(hours=i), area, "theft") for i in range(n)]


def shared(service: SharingService, areas: list[str]) -> dict[str, float]:
    body = service.read(Dataset.SAFETY_INDEX, MARCH, areas, "json")
    assert all(set(r) == {"month", "area", "index"} for r in body["rows"])  # the value only
    assert {r["month"] for r in body["rows"]} <= {"2026-03"}
    return {r["area"]: r["index"] for r in body["rows"]}


def test_an_area_below_k_is_left_out_and_so_is_the_site(storage):
    insert(storage.alerts.database, "incidents", thefts("plaza", 6) + thefts("north-gate", 2))
    assert set(shared(service_for(storage), ALL)) == {"plaza"}


def test_the_site_is_shared_only_when_nothing_can_be_subtracted_and_only_to_all_areas(storage):
    insert(storage.alerts.database, "incidents", thefts("plaza", 6) + thefts("north-gate", 5))
    service = service_for(storage)
    assert set(shared(service, ALL)) == {"plaza", "north-gate", "site"}
    assert set(shared(service, ["plaza"])) == {"plaza"}  # the site holds others' data
    # Two incidents of no area: the site minus its areas would be 2.
    clear(storage.alerts.database)
    rows = thefts("plaza", 6) + thefts("north-gate", 5) + thefts(None, 2)
    insert(storage.alerts.database, "incidents", rows)
    assert set(shared(service, ALL)) == {"plaza", "north-gate"}
    csv_text = service.read(Dataset.SAFETY_INDEX, MARCH, ALL, "csv")
    assert csv_text.splitlines()[0] == "month,area,index" and len(csv_text.splitlines()) == 3
