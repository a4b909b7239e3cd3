"""Resuming the live feed over real HTTP, as a browser's EventSource does: after a dropped
connection it sends the last ``id:`` it saw as ``Last-Event-ID`` and must get exactly the
events it missed (in order, none twice, none lost), or ``resync`` when the hub cannot know
what it missed (an id from before a restart, or garbage).

Alerts go in through the hub's own ingestor; each stored alert publishes an ``alert`` event
and an ``incident`` event (the incident it opened or joined).
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from hub_helpers import ApiHub, SseEvent, SseReader, make_alert, serve_api


@pytest.fixture
def hub(tmp_path: Path):
    # A short heartbeat: after the missed events, the next thing on the wire is a ping.
    api = serve_api(tmp_path / "hub", heartbeat_s=0.5)
    yield api
    api.close()


def read_data_events(live: SseReader, count: int) -> list[SseEvent]:
    """The next ``count`` events that carry an id (pings carry none)."""
    out: list[SseEvent] = []
    while len(out) < count:
        event = live.event()
        if event.name != "ping":
            out.append(event)
    return out


def number(event_id: str) -> int:
    return int(event_id.rsplit("-", 1)[1])


def open_feed(client: httpx.Client, last_event_id: str | None = None):
    headers = {"Last-Event-ID": last_event_id} if last_event_id else {}
    return client.stream("GET", "/api/events", headers=headers)


def test_a_reconnecting_client_gets_exactly_the_events_it_missed(hub: ApiHub):
    viewer = hub.client("viewer")
    seen_before = [make_alert(seq=i) for i in range(2)]
    with open_feed(viewer) as feed:
        live = SseReader(feed)
        assert live.event().name == "ping"  # the stream is open and subscribed
        for alert in seen_before:
            hub.ingest(alert)
        before = read_data_events(live, 2 * len(seen_before))
    assert [e.data["id"] for e in before if e.name == "alert"] == [a.id for a in seen_before]
    last_id = before[-1].id

    missed = [make_alert(seq=10 + i) for i in range(5)]
    for alert in missed:  # while the phone is in a tunnel
        hub.ingest(alert)

    with open_feed(viewer, last_id) as feed:
        live = SseReader(feed)
        replayed = read_data_events(live, 2 * len(missed))
        # Nothing more than the missed events: the next block is the heartbeat.
        assert live.event().name == "ping"
    assert [e.data["id"] for e in replayed if e.name == "alert"] == [a.id for a in missed]
    assert [e.name for e in replayed] == ["alert", "incident"] * len(missed)
    # Ids follow on from the last one seen: in order, none twice, none missing.
    run = last_id.rsplit("-", 1)[0]
    assert [e.id for e in replayed] == [
        f"{run}-{number(last_id) + i}" for i in range(1, len(replayed) + 1)
    ]


def test_live_events_follow_the_replayed_ones_on_the_same_stream(hub: ApiHub):
    viewer = hub.client("viewer")
    with open_feed(viewer) as feed:
        live = SseReader(feed)
        assert live.event().name == "ping"
        hub.ingest(make_alert(seq=0))
        # The connection drops between an alert and its incident event.
        [alert] = read_data_events(live, 1)
    with open_feed(viewer, alert.id) as feed:
        live = SseReader(feed)
        [incident] = read_data_events(live, 1)  # the one event after the alert's
        assert incident.name == "incident" and number(incident.id) == number(alert.id) + 1
        later = make_alert(seq=2)
        hub.ingest(later)
        [alert_now, _] = read_data_events(live, 2)
        assert alert_now.data["id"] == later.id
        assert number(alert_now.id) == number(incident.id) + 1


@pytest.mark.parametrize(
    "unknown",
    ["0badc0de-3", "not-an-id", "12345"],
    ids=["from before a restart", "garbage", "no run"],
)
def test_an_unknown_last_event_id_gets_resync_and_a_point_to_resume_from(hub, unknown):
    viewer = hub.client("viewer")
    for i in range(3):
        hub.ingest(make_alert(seq=i))
    with open_feed(viewer, unknown) as feed:
        live = SseReader(feed)
        resync = live.event()
        assert resync.name == "resync" and resync.data == {}
        assert live.event().name == "ping"  # nothing else: the page reloads from the API
    # The resync carries the newest id; resuming from it replays nothing.
    with open_feed(viewer, resync.id) as feed:
        live = SseReader(feed)
        assert live.event().name == "ping"
    # The query parameter works too, for clients that cannot set headers.
    with viewer.stream("GET", "/api/events", params={"last_event_id": unknown}) as feed:
        assert SseReader(feed).event().name == "resync"
