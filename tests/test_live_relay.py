"""The hub's live relay, per viewer: a slow viewer skips frames (the hub holds at most one
unsent frame for it, never a queue), and a viewer never gets more bytes a second than its
cap. Frames come from another thread, as paho delivers them; time is a stepped clock."""

from __future__ import annotations

import asyncio
import threading

from contract.live import LiveFrameHeader
from hub.live import LiveFrame, Viewer


class Stepped:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def frame(seq: int, size: int) -> LiveFrame:
    header = LiveFrameHeader(camera="plaza", seq=seq, captured=0.0, width=8, height=8)
    return LiveFrame(header, b"\xff\xd8" + b"x" * (size - 4) + b"\xff\xd9", 0.0)


def offer_from_another_thread(viewer: Viewer, frames: list[LiveFrame]) -> None:
    t = threading.Thread(target=lambda: [viewer.offer(f) for f in frames])
    t.start()
    t.join()


def test_a_slow_viewer_gets_the_newest_frame_and_the_rest_are_skipped() -> None:
    async def scenario() -> None:
        clock = Stepped()
        viewer = Viewer(("gw", "plaza"), asyncio.get_running_loop(), 10_000_000, clock)
        # 50 frames arrive while the viewer is busy sending (it awaits nothing meanwhile).
        offer_from_another_thread(viewer, [frame(n, 1000) for n in range(50)])
        got = await viewer.next_frame()
        assert got.header.seq == 49
        assert viewer.skipped == 49 and viewer.sent == 1
        assert viewer._frame is None  # nothing else held for it

    asyncio.run(scenario())


def test_a_viewer_never_gets_more_bytes_a_second_than_its_cap() -> None:
    async def scenario() -> None:
        clock = Stepped()
        cap = 100_000
        viewer = Viewer(("gw", "plaza"), asyncio.get_running_loop(), cap, clock)
        sent_bytes = 0
        for n in range(100):  # 10 s of 10 frames/s of 30 KB: 300 KB/s offered
            clock.now = n / 10
            viewer.offer(frame(n, 30_000))
            # The viewer asks for its next frame; one within budget comes at once, one over
            # it is skipped and the viewer goes on waiting (cancelled here: the next offer).
            task = asyncio.ensure_future(viewer.next_frame())
            for _ in range(3):
                await asyncio.sleep(0)
            if task.done():
                sent_bytes += len(task.result().jpeg)
            else:
                task.cancel()
        assert sent_bytes <= cap * (10 + 1)  # 10 s at the cap, plus one second of burst
        assert viewer.sent >= 30  # and it did get pictures: about 3 a second
        assert viewer.skipped >= 50

    asyncio.run(scenario())


def test_ending_the_relay_ends_a_waiting_viewer() -> None:
    async def scenario() -> None:
        viewer = Viewer(("gw", "plaza"), asyncio.get_running_loop(), 1000, Stepped())
        waiting = asyncio.ensure_future(viewer.next_frame())
        threading.Thread(target=viewer.end).start()
        assert await asyncio.wait_for(waiting, 10) is None

    asyncio.run(scenario())
