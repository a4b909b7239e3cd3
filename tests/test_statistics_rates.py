"""False-alarm tallies and their order (hub.statistics.false_alarms), on hand-made rows of
``(incident id, class, node, camera, zone, kind)`` as StatisticsStore.incident_sources
returns them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hub_helpers import make_alert
from statistics_kit import incident, insert

from contract.ids import new_alert_id
from hub.domain.alerts import AlertRecord
from hub.statistics.false_alarms import rates, tally_sources
from hub.statistics.queries import StatisticsStore
from hub.storage.sqlite import open_sqlite_storage

RULE = ("node", "camera", "zone", "kind")
NODE = ("node", "camera")


def test_an_incident_counts_once_per_camera_and_once_per_rule() -> None:
    rows = [
        ("i1", "false_alarm", "gw", "cam1", "yard", "intrusion"),
        ("i1", "false_alarm", "gw", "cam1", "street", "loiter"),  # same camera, other rule
        ("i2", "real", "gw", "cam1", "yard", "intrusion"),
        ("i3", "cancelled", "door-3", None, None, "door_open"),
    ]
    rules, nodes = tally_sources(rows)
    assert dict(nodes["gw", "cam1"]) == {"false_alarm": 1, "real": 1}
    assert dict(rules["gw", "cam1", "yard", "intrusion"]) == {"false_alarm": 1, "real": 1}
    assert dict(rules["gw", "cam1", "street", "loiter"]) == {"false_alarm": 1}
    assert dict(nodes["door-3", None]) == {"cancelled": 1}


def test_worst_first_too_few_last_and_at_most_the_limit() -> None:
    def tally(false: int, real: int, open_: int = 0) -> dict[str, int]:
        return {"false_alarm": false, "cancelled": 0, "real": real, "duplicate": 0, "open": open_}

    tallies = {
        ("gw", "cam1", "yard", "intrusion"): tally(2, 8),  # 20 %
        ("gw", "cam1", "street", "loiter"): tally(9, 1),  # 90 %
        ("gw", "cam2", "yard", "intrusion"): tally(1, 1, open_=30),  # 2 decided: too few
        ("gw", "cam2", "gate", "crowd"): tally(5, 5),  # 50 %
    }
    found = rates(tallies, RULE, min_events=10, limit=10)
    assert [(r.zone, r.rate_pct, r.status) for r in found] == [
        ("street", 90.0, "rated"),
        ("gate", 50.0, "rated"),
        ("yard", 20.0, "rated"),
        ("yard", None, "too_few"),
    ]
    assert found[-1].incidents == 32
    assert [r.rate_pct for r in rates(tallies, RULE, min_events=10, limit=2)] == [90.0, 50.0]
    assert rates({("door-3", None): tally(0, 10)}, NODE, 10, 5)[0].rate_pct == 0.0


def test_sources_are_kept_as_alerts_are_filed_and_outlive_the_alerts(tmp_path) -> None:
    """The alerts repository writes incident_sources for alerts filed at insert and linked
    later (set_incident), and a rule's false alarms still count after retention purged its
    alerts."""
    storage = open_sqlite_storage(tmp_path / "hub")
    database = storage.incidents.database
    store = StatisticsStore(database)
    start = datetime(2026, 11, 1, tzinfo=UTC)
    false = incident(start, state="resolved", outcome="false_alarm")
    real = incident(start + timedelta(hours=1), state="resolved", outcome="handled")
    insert(database, [false, real])
    yard = make_alert(node="gate-1", camera="cam1", zone="yard", seq=0)
    door = make_alert(node="door-3", camera=None, zone=None, kind="door_open", seq=0)
    later = make_alert(node="gate-1", camera="cam2", zone="gate", seq=1)
    storage.alerts.insert_many(
        [
            AlertRecord.received(yard, start, false["id"]),
            AlertRecord.received(yard.model_copy(update={"id": new_alert_id(), "seq": 2}),
                                 start, false["id"]),
            AlertRecord.received(door, start, real["id"]),
            AlertRecord.received(later, start),
        ]
    )  # fmt: skip
    storage.alerts.set_incident(later.id, real["id"])  # filed after it was stored
    month = (start, start + timedelta(days=30))
    expected = [
        (false["id"], "false_alarm", "gate-1", "cam1", "yard", "intrusion"),
        (real["id"], "real", "door-3", None, None, "door_open"),
        (real["id"], "real", "gate-1", "cam2", "gate", "intrusion"),
    ]
    assert sorted(store.incident_sources(*month)) == sorted(expected)
    gone = start + timedelta(days=400)
    storage.alerts.purge(gone, gone)  # every alert is gone
    assert storage.alerts.count() == 0
    assert sorted(store.incident_sources(*month)) == sorted(expected)
