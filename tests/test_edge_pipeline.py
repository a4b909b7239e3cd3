"""The live pipeline's frame hand-over: live sources drop what they cannot process, files wait."""

from __future__ import annotations

import threading

import numpy as np

from edge.capture import Frame
from edge.detections import Detections
from edge.pipeline import PipelineStats, _LatestFrame
from edge.processor import ProcessedFrame

IMAGE = np.zeros((4, 4, 3), np.uint8)


def frame(i: int, restarted: bool = False) -> Frame:
    return Frame(i, i * 0.1, IMAGE, restarted)


def test_a_live_source_keeps_only_the_newest_frame_and_counts_the_dropped_ones():
    slot, stop, stats = _LatestFrame(drop_when_full=True), threading.Event(), PipelineStats()
    for i in range(5):
        if slot.put(frame(i, restarted=i == 0), stop):
            stats.frame_skipped()
    newest = slot.take(timeout=0.1)
    assert newest.index == 4
    # Frame 0 was dropped, but its "history is void" mark must reach the processor.
    assert newest.restarted
    assert slot.take(timeout=0.01) is None
    assert stats.snapshot().skipped_frames == 4


def test_an_unpaced_file_waits_for_the_processor_instead_of_dropping():
    slot, stop = _LatestFrame(drop_when_full=False), threading.Event()
    taken: list[int] = []

    def consume() -> None:
        while len(taken) < 20:
            got = slot.take(timeout=1.0)
            if got is not None:
                taken.append(got.index)

    consumer = threading.Thread(target=consume)
    consumer.start()
    dropped = [slot.put(frame(i), stop) for i in range(20)]
    consumer.join(10)
    assert not any(dropped)
    assert taken == list(range(20))


def test_stats_report_rates_and_mean_inference():
    stats = PipelineStats()
    motionless = ProcessedFrame(frame(0), None, False, Detections.empty())
    detected = ProcessedFrame(frame(1), None, True, Detections.empty(), inference_ms=80.0)
    slower = ProcessedFrame(frame(2), None, True, Detections.empty(), inference_ms=120.0)
    for result in (motionless, detected, slower):
        stats.frame_read()
        stats.frame_processed(result)
    snap = stats.snapshot()
    assert snap.inference_ms == 100.0
    assert snap.camera_fps > 0 and snap.process_fps > 0 and snap.detect_fps > 0
    assert snap.skipped_frames == 0
