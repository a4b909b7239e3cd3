"""The live fan-out: events cross from the ingest thread into asyncio subscribers, and a
subscriber that falls behind loses its oldest events instead of slowing ingest."""

from __future__ import annotations

import asyncio
import threading

from hub.live import LiveFeed


def test_events_from_another_thread_reach_every_subscriber():
    feed = LiveFeed()

    async def scenario() -> tuple[list, list]:
        with feed.subscribe() as a, feed.subscribe() as b:
            sender = threading.Thread(target=lambda: [feed.publish({"n": i}) for i in range(3)])
            sender.start()
            sender.join()
            got_a = [await a.get(5) for _ in range(3)]
            got_b = [await b.get(5) for _ in range(3)]
        return got_a, got_b

    got_a, got_b = asyncio.run(scenario())
    assert got_a == got_b == [{"n": 0}, {"n": 1}, {"n": 2}]
    assert feed.subscriber_count == 0  # leaving the block unsubscribed them


def test_a_slow_subscriber_keeps_the_newest_events_and_counts_the_dropped():
    feed = LiveFeed(queue_size=3)

    async def scenario():
        with feed.subscribe() as slow:
            # Ingest publishes 10 events while the subscriber reads nothing.
            sender = threading.Thread(target=lambda: [feed.publish({"n": i}) for i in range(10)])
            sender.start()
            sender.join()
            await asyncio.sleep(0.05)  # let the loop run the scheduled puts
            events = [await slow.get(1) for _ in range(3)]
            return events, slow.dropped, await slow.get(0.05)

    events, dropped, nothing_more = asyncio.run(scenario())
    assert events == [{"n": 7}, {"n": 8}, {"n": 9}]
    assert dropped == 7 and nothing_more is None


def test_publishing_after_the_subscribers_loop_has_closed_does_not_raise():
    feed = LiveFeed()

    async def subscribe_and_leave():
        return feed.subscribe()  # never closed: its loop ends with asyncio.run

    asyncio.run(subscribe_and_leave())
    feed.publish({"n": 1})
    assert feed.subscriber_count == 0
