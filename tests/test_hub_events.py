"""The event bus: events cross from the ingest thread into asyncio streams, every event has
an id, a stream that reconnects with the last id it saw gets exactly what it missed, and a
stream that falls too far behind is told to resync instead of slowing ingest down."""

from __future__ import annotations

import asyncio
import threading

from hub_helpers import make_alert

from hub.domain.alerts import AlertRecord
from hub.events import AlertStored, Envelope, EventBus, HubEvent, Resync, SnapshotArrived


def snapshot(n: int) -> SnapshotArrived:
    """A small distinct event: number ``n`` in hex as an alert id."""
    return SnapshotArrived(alert_id=f"{n:032x}")


def numbers(envelopes: list[Envelope | None]) -> list[int]:
    return [int(e.event.alert_id, 16) for e in envelopes]


def publish_from_a_thread(bus: EventBus, events: list[HubEvent]) -> list[Envelope]:
    """Publish as ingest does, on another thread; returns the envelopes in order."""
    out: list[Envelope] = []
    sender = threading.Thread(target=lambda: out.extend(bus.publish(e) for e in events))
    sender.start()
    sender.join()
    return out


def test_events_from_another_thread_reach_every_subscriber():
    bus = EventBus()

    async def scenario() -> tuple[list, list]:
        with bus.subscribe() as a, bus.subscribe() as b:
            sent = publish_from_a_thread(bus, [snapshot(i) for i in range(3)])
            got_a = [await a.get(5) for _ in range(3)]
            got_b = [await b.get(5) for _ in range(3)]
        return sent, got_a, got_b

    sent, got_a, got_b = asyncio.run(scenario())
    assert got_a == got_b == sent
    assert numbers(got_a) == [0, 1, 2]
    assert len({e.id for e in sent}) == 3  # each event its own id
    assert bus.stream_count == 0  # leaving the block unsubscribed them


def test_a_stream_that_falls_max_backlog_behind_is_told_to_resync_and_ingest_goes_on():
    bus = EventBus(max_backlog=3)

    async def scenario():
        with bus.subscribe() as slow:
            # Ingest publishes 10 events while the subscriber reads nothing: never blocked.
            sent = publish_from_a_thread(bus, [snapshot(i) for i in range(10)])
            first = await slow.get(5)
            queued_after_it = slow.queue.qsize()
            dropped = slow.dropped
            # Once it has caught up, new events flow again.
            later = bus.publish(snapshot(10))
            return sent, first, queued_after_it, dropped, later, await slow.get(5)

    sent, first, queued, dropped, later, after = asyncio.run(scenario())
    # It holds no stale backlog, only the order to reload; its id resumes after the last
    # event the reload covers.
    assert isinstance(first.event, Resync) and first.id == sent[-1].id
    assert queued == 0 and dropped > 0
    assert after == later


def test_publishing_after_the_subscribers_loop_has_closed_does_not_raise():
    bus = EventBus()

    async def subscribe_and_leave():
        return bus.subscribe()  # never closed: its loop ends with asyncio.run

    asyncio.run(subscribe_and_leave())
    bus.publish(snapshot(1))
    assert bus.stream_count == 0


def test_a_stream_resuming_after_an_id_gets_exactly_the_events_it_missed():
    bus = EventBus()
    seen = bus.publish(snapshot(0))  # the last event the browser saw before it went away
    missed = [bus.publish(snapshot(i)) for i in range(1, 6)]

    async def resume():
        with bus.subscribe(seen.id) as stream:
            replayed = [await stream.get(5) for _ in missed]
            live = bus.publish(snapshot(6))
            return replayed, live, await stream.get(5), stream.queue.qsize()

    replayed, live, next_one, left = asyncio.run(resume())
    assert replayed == missed  # in order, none missing
    assert next_one == live and left == 0  # then live events, nothing twice


def test_resuming_from_the_newest_id_replays_nothing():
    bus = EventBus()
    newest = [bus.publish(snapshot(i)) for i in range(3)][-1]

    async def resume():
        with bus.subscribe(newest.id) as stream:
            return await stream.get(0.05)

    assert asyncio.run(resume()) is None


def resume_from(bus: EventBus, last_event_id: str) -> Envelope:
    async def first_event():
        with bus.subscribe(last_event_id) as stream:
            return await stream.get(5)

    return asyncio.run(first_event())


def test_an_id_the_bus_no_longer_holds_gets_resync():
    bus = EventBus(replay_size=3)
    first = bus.publish(snapshot(0))
    newest = [bus.publish(snapshot(i)) for i in range(1, 10)][-1]
    # Too old: events after it have left the replay window.
    too_old = resume_from(bus, first.id)
    assert isinstance(too_old.event, Resync) and too_old.id == newest.id


def test_an_id_from_before_a_restart_or_garbage_gets_resync():
    before_restart = EventBus()
    old_id = [before_restart.publish(snapshot(i)) for i in range(5)][-1].id
    bus = EventBus()  # the hub restarted: a new run, the same event numbers again
    for i in range(10):
        bus.publish(snapshot(i))
    for unknown in (old_id, "not-an-id", "deadbeef", "-", f"{bus.run_id}-x"):
        assert isinstance(resume_from(bus, unknown).event, Resync), unknown


def test_handlers_run_for_every_publish_from_any_thread():
    bus = EventBus()
    seen: list[HubEvent] = []
    lock = threading.Lock()

    def handler(event: HubEvent) -> None:
        with lock:
            seen.append(event)

    bus.on(handler)
    senders = [
        threading.Thread(target=lambda k=k: [bus.publish(snapshot(k * 100 + i)) for i in range(50)])
        for k in range(4)
    ]
    for t in senders:
        t.start()
    for t in senders:
        t.join()
    assert sorted(int(e.alert_id, 16) for e in seen) == sorted(
        k * 100 + i for k in range(4) for i in range(50)
    )


def test_a_raising_handler_does_not_stop_the_others_or_the_publisher(caplog):
    bus = EventBus()
    before: list[HubEvent] = []
    after: list[HubEvent] = []
    alert = make_alert()
    record = AlertRecord.received(alert, alert.ts)

    def broken(event: HubEvent) -> None:
        raise RuntimeError("notifier down")

    bus.on(before.append)
    bus.on(broken)
    bus.on(after.append)
    events = [AlertStored(alert=record), snapshot(1)]
    envelopes = [bus.publish(e) for e in events]
    assert before == after == events
    assert [e.event for e in envelopes] == events
    failures = [r for r in caplog.records if r.name == "hub.events" and r.exc_info]
    assert len(failures) == len(events)  # each failure is logged with its traceback
