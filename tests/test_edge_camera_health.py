"""Camera health on real frames of the plaza excerpt, tampered with in the test.

The "camera" is a 640x480 window into the 768x576 excerpt, so knocking it sideways or tilting
it shows real scenery at the edges, not black borders. Time is simulated: each kept frame
stands for 0.5 s, and the excerpt loops, so a few hundred frames make minutes of footage.
Default settings throughout (20 s warm-up, covered/blinded after 10 s, defocused/moved after
30 s, frozen after 30 s, lost after 20 s, cleared after 30 s), checked once a second.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import cv2
import numpy as np
import pytest
from conftest import EXCERPT
from pydantic import ValidationError

from edge.camera_health import (
    CameraHealth,
    HealthEvent,
    HealthKind,
    HealthSettings,
    HealthState,
    alert_fields,
)

STEP = 0.5  # seconds of camera time per kept frame (every 5th frame of the 10 fps excerpt)
TAMPER_AT = 40.0  # after the 20 s warm-up and some healthy time
SLACK = 1.5  # one check interval plus one frame step: how late a hold can be noticed
S = HealthSettings()

Alter = Callable[[np.ndarray], np.ndarray]


@pytest.fixture(scope="module")
def clip() -> list[np.ndarray]:
    """Every 5th frame of the excerpt (40 frames), decoded once for the module."""
    cap = cv2.VideoCapture(str(EXCERPT))
    frames = []
    index = 0
    while True:
        ok, image = cap.read()
        if not ok:
            break
        if index % 5 == 0:
            frames.append(image)
        index += 1
    cap.release()
    assert len(frames) == 40
    return frames


def view(frame: np.ndarray, dx: int = 0, dy: int = 0, angle: float = 0.0) -> np.ndarray:
    """The camera's 640x480 window; ``dx``/``dy`` pan it, ``angle`` (degrees) tilts it."""
    if angle:
        rot = cv2.getRotationMatrix2D((384, 288), angle, 1.0)
        frame = cv2.warpAffine(frame, rot, (768, 576), borderMode=cv2.BORDER_REFLECT)
    x, y = 64 + dx, 48 + dy
    return np.ascontiguousarray(frame[y : y + 480, x : x + 640])


def play(
    health: CameraHealth,
    clip: list[np.ndarray],
    start: float,
    end: float,
    alter: Alter | None = None,
) -> list[HealthEvent]:
    """Feed camera time [start, end) at 2 frames/s; ``alter`` tampers with each frame."""
    events: list[HealthEvent] = []
    for i in range(round(start / STEP), round(end / STEP)):
        t = i * STEP
        image = view(clip[i % len(clip)])
        events += health.observe(alter(image) if alter else image, t)
    return events


def tamper(clip: list[np.ndarray], alter: Alter, until: float, health: CameraHealth | None = None):
    """Healthy until TAMPER_AT, tampered until ``until``, healthy for 45 s after."""
    health = health or CameraHealth()
    before = play(health, clip, 0, TAMPER_AT)
    during = play(health, clip, TAMPER_AT, until, alter)
    after = play(health, clip, until, until + 45)
    return health, before, during, after


def only(events: list[HealthEvent], kind: HealthKind, state: HealthState) -> HealthEvent:
    matching = [e for e in events if e.kind is kind and e.state is state]
    assert len(matching) == 1, events
    return matching[0]


def assert_raised_then_cleared(before, during, after, kind, hold: float, until: float):
    assert before == []
    raised = only(during, kind, HealthState.RAISED)
    assert TAMPER_AT + hold <= raised.t <= TAMPER_AT + hold + SLACK
    assert [e.kind for e in during] == [kind]
    cleared = only(after, kind, HealthState.CLEARED)
    assert until + S.clear_after_s <= cleared.t <= until + S.clear_after_s + SLACK
    assert [e.kind for e in after] == [kind]
    return raised, cleared


# --- nothing to report -------------------------------------------------------------------


def test_the_unaltered_excerpt_played_at_its_own_rate_raises_nothing():
    # Every frame at 10 fps, as the pipeline would feed it; people walk across the plaza.
    health = CameraHealth(HealthSettings(warmup_s=5))
    cap = cv2.VideoCapture(str(EXCERPT))
    events, index = [], 0
    while True:
        ok, image = cap.read()
        if not ok:
            break
        events += health.observe(image, 1000.0 + index / 10)
        events += health.tick(1000.0 + index / 10)
        index += 1
    assert index == 200
    assert events == []
    assert not health.learning
    m = health.measures
    assert m is not None and m.match is not None and m.sharpness is not None
    assert m.match > S.moved_match and m.sharpness > S.defocus_ratio


def test_four_minutes_of_people_walking_raise_nothing(clip):
    health = CameraHealth()
    assert play(health, clip, 0, 240) == []
    assert health.raised == set()


def test_a_one_second_blackout_like_a_passing_bus_raises_nothing(clip):
    health = CameraHealth()
    blackouts = [(60.0, 61.0), (90.0, 91.0), (93.0, 94.0)]  # even two close together

    def alter_at(t: float) -> Alter | None:
        return (lambda im: np.zeros_like(im)) if any(a <= t < b for a, b in blackouts) else None

    events = []
    for i in range(round(150 / STEP)):
        t = i * STEP
        image = view(clip[i % len(clip)])
        alter = alter_at(t)
        events += health.observe(alter(image) if alter else image, t)
    assert events == []


def test_dusk_dimming_the_scene_by_30_percent_raises_nothing(clip):
    # Much faster than a real dusk: 30 % darker over two minutes, then staying dark.
    health = CameraHealth()
    events = play(health, clip, 0, 40)
    for i in range(round(40 / STEP), round(240 / STEP)):
        t = i * STEP
        gain = 1.0 - 0.3 * min(max((t - 40) / 120, 0.0), 1.0)
        image = cv2.convertScaleAbs(view(clip[i % len(clip)]), alpha=gain)
        events += health.observe(image, t)
    assert events == []
    # The view's mean grey is ~124 in daylight; it really did get 30 % darker.
    assert health.measures is not None and health.measures.brightness < 0.75 * 124


def test_a_floodlight_switching_on_over_part_of_the_scene_raises_nothing(clip):
    # One side lit up to 1.35x, the far corners dimmed to 0.35x, abruptly, for two minutes.
    yy, xx = np.mgrid[0:480, 0:640].astype(np.float32)
    gain = 0.35 + np.exp(-(((xx - 450) / 220) ** 2 + ((yy - 330) / 160) ** 2))
    gain3 = np.dstack([gain] * 3)

    def floodlit(im: np.ndarray) -> np.ndarray:
        return np.clip(im * gain3, 0, 255).astype(np.uint8)

    health = CameraHealth()
    events = play(health, clip, 0, TAMPER_AT) + play(health, clip, TAMPER_AT, 160, floodlit)
    assert events == []
    m = health.measures
    assert m is not None and m.match is not None and m.sharpness is not None
    assert m.match > 0.85 and m.sharpness > 0.85


# --- lens covered / blinded --------------------------------------------------------------


def test_a_blacked_out_lens_is_raised_after_the_hold_and_cleared_after_recovery(clip):
    _, before, during, after = tamper(clip, lambda im: np.zeros_like(im), until=80)
    raised, cleared = assert_raised_then_cleared(
        before, during, after, HealthKind.LENS_COVERED, S.raise_after_s, until=80
    )
    assert raised.value == 0.0 and raised.threshold == S.min_contrast
    assert raised.measure == "contrast"
    assert cleared.value > 40  # the plaza's normal contrast is back
    assert alert_fields(raised) == {
        "kind": "lens_covered",
        "severity": "major",
        "message": raised.message,
    }
    assert alert_fields(cleared)["severity"] == "info"


def test_a_hand_over_the_lens_is_lens_covered(clip):
    # Skin right on the lens: a dim, shapeless blur of the scene, plus sensor noise.
    rng = np.random.default_rng(7)

    def hand(im: np.ndarray) -> np.ndarray:
        # Blurring a 40x30 copy and scaling it back is a sigma-25 blur at a fraction of the cost.
        tiny = cv2.GaussianBlur(cv2.resize(im, (40, 30), interpolation=cv2.INTER_AREA), (0, 0), 1.5)
        dim = cv2.resize(tiny, (im.shape[1], im.shape[0])).astype(np.float32) * 0.12
        noise = rng.standard_normal(im.shape, dtype=np.float32) * 2.0
        return np.clip(dim + noise, 0, 255).astype(np.uint8)

    _, before, during, after = tamper(clip, hand, until=70)
    raised, _ = assert_raised_then_cleared(
        before, during, after, HealthKind.LENS_COVERED, S.raise_after_s, until=70
    )
    assert 0 < raised.value < S.min_contrast
    assert "covered" in raised.message


def test_a_saturated_white_picture_is_blinded_not_covered(clip):
    _, before, during, after = tamper(clip, lambda im: np.full_like(im, 255), until=70)
    raised, _ = assert_raised_then_cleared(
        before, during, after, HealthKind.BLINDED, S.raise_after_s, until=70
    )
    assert raised.value == 1.0 and raised.measure == "blown_out_share"
    assert alert_fields(raised)["severity"] == "major"


def test_a_covered_lens_flickering_open_stays_one_alert(clip):
    # Covered, briefly uncovered twice (a hand adjusting), covered again: raised once, and
    # the 1 s gaps are far shorter than the clear time, so it never clears in between.
    health = CameraHealth()
    gaps = [(60.0, 61.0), (70.0, 71.0)]
    events = play(health, clip, 0, TAMPER_AT)
    for i in range(round(TAMPER_AT / STEP), round(100 / STEP)):
        t = i * STEP
        image = view(clip[i % len(clip)])
        covered = not any(a <= t < b for a, b in gaps)
        events += health.observe(np.zeros_like(image) if covered else image, t)
    assert [(e.kind, e.state) for e in events] == [(HealthKind.LENS_COVERED, HealthState.RAISED)]


# --- defocused / moved -------------------------------------------------------------------


def test_a_strongly_blurred_view_is_defocused_not_moved(clip):
    blur = lambda im: cv2.GaussianBlur(im, (0, 0), 4)  # noqa: E731
    _, before, during, after = tamper(clip, blur, until=100)
    raised, cleared = assert_raised_then_cleared(
        before, during, after, HealthKind.DEFOCUSED, S.view_raise_after_s, until=100
    )
    assert raised.value < S.defocus_ratio and raised.measure == "sharpness_ratio"
    assert cleared.value > 0.9
    assert alert_fields(raised) == {
        "kind": "defocused",
        "severity": "minor",
        "message": raised.message,
    }


def test_a_camera_knocked_sideways_by_8_percent_is_moved(clip):
    health = CameraHealth()
    before = play(health, clip, 0, TAMPER_AT)
    during: list[HealthEvent] = []
    for i in range(round(TAMPER_AT / STEP), round(100 / STEP)):
        t = i * STEP
        during += health.observe(view(clip[i % len(clip)], dx=51), t)  # 51 px = 8 % of 640
    after = play(health, clip, 100, 145)
    raised, _ = assert_raised_then_cleared(
        before, during, after, HealthKind.CAMERA_MOVED, S.view_raise_after_s, until=100
    )
    assert raised.measure == "shift_of_width"
    assert raised.value == pytest.approx(0.08, abs=0.01)
    assert "8%" in raised.message
    assert alert_fields(raised)["severity"] == "major"


def test_a_camera_tilted_by_5_degrees_is_moved(clip):
    health = CameraHealth()
    before = play(health, clip, 0, TAMPER_AT)
    during: list[HealthEvent] = []
    for i in range(round(TAMPER_AT / STEP), round(100 / STEP)):
        during += health.observe(view(clip[i % len(clip)], angle=5.0), i * STEP)
    after = play(health, clip, 100, 145)
    raised, _ = assert_raised_then_cleared(
        before, during, after, HealthKind.CAMERA_MOVED, S.view_raise_after_s, until=100
    )
    assert raised.measure == "view_match" and raised.value < S.moved_match


def test_a_camera_left_pointing_the_wrong_way_stays_reported_for_half_an_hour(clip):
    # The reference only learns from healthy pictures, so the wrong view never becomes normal
    # (were it learned, a 10 min half-life would have cleared the alert by now).
    health = CameraHealth()
    play(health, clip, 0, TAMPER_AT)
    tilted = [view(frame, angle=5.0) for frame in clip]
    events: list[HealthEvent] = []
    for second in range(int(TAMPER_AT), int(TAMPER_AT) + 1800):  # one frame a second
        events += health.observe(tilted[second % len(tilted)], float(second))
    assert [(e.kind, e.state) for e in events] == [(HealthKind.CAMERA_MOVED, HealthState.RAISED)]
    assert health.raised == {HealthKind.CAMERA_MOVED}


def test_relearn_accepts_a_deliberate_re_aim(clip):
    health = CameraHealth()
    play(health, clip, 0, TAMPER_AT)
    events: list[HealthEvent] = []
    t = TAMPER_AT
    for i in range(round(TAMPER_AT / STEP), round(200 / STEP)):
        t = i * STEP
        if t == 80.0:
            assert health.raised == {HealthKind.CAMERA_MOVED}
            health.relearn()  # the installer re-aimed it on purpose
        events += health.observe(view(clip[i % len(clip)], dx=51), t)
    raised = only(events, HealthKind.CAMERA_MOVED, HealthState.RAISED)
    cleared = only(events, HealthKind.CAMERA_MOVED, HealthState.CLEARED)
    # Cleared once the new view is learned (warm-up) and has held for the clear time.
    assert raised.t < 80 < 80 + S.warmup_s + S.clear_after_s <= cleared.t
    assert health.raised == set()


# --- frozen / lost -----------------------------------------------------------------------


def test_a_frozen_picture_is_raised_after_the_hold_and_cleared_when_it_moves(clip):
    stuck = view(clip[3])
    _, before, during, after = tamper(clip, lambda im: stuck, until=100)
    # The first repeat is compared with a live frame; identical pictures start one check later.
    raised, _ = assert_raised_then_cleared(
        before, during, after, HealthKind.STREAM_FROZEN, S.frozen_after_s + 1.0, until=100
    )
    assert raised.value == 0.0 and raised.measure == "grey_change"
    assert "frozen" in raised.message


def test_a_lost_stream_is_raised_by_tick_and_cleared_when_frames_flow_again(clip):
    health = CameraHealth()
    assert play(health, clip, 0, TAMPER_AT) == []
    last_frame = TAMPER_AT - STEP
    ticks: list[HealthEvent] = []
    for second in range(41, 90):  # no frames: the agent's timer ticks once a second
        ticks += health.tick(float(second))
    raised = only(ticks, HealthKind.STREAM_LOST, HealthState.RAISED)
    assert last_frame + S.lost_after_s <= raised.t <= last_frame + S.lost_after_s + 1
    assert raised.value >= S.lost_after_s and alert_fields(raised)["kind"] == "stream_lost"
    assert len(ticks) == 1
    # Frames again from t=90 (the same view): only the stream clears, after the clear time.
    after = play(health, clip, 90, 130)
    for second in range(90, 130):
        after += health.tick(float(second))
    cleared = only(after, HealthKind.STREAM_LOST, HealthState.CLEARED)
    assert 90 + S.clear_after_s <= cleared.t <= 90 + S.clear_after_s + 1
    assert [e.kind for e in after] == [HealthKind.STREAM_LOST]


def test_a_camera_that_never_sends_a_frame_is_lost():
    health = CameraHealth()
    events = [e for s in range(0, 30) for e in health.tick(float(s))]
    assert [(e.kind, e.state, e.t) for e in events] == [
        (HealthKind.STREAM_LOST, HealthState.RAISED, S.lost_after_s)
    ]


def test_a_lost_stream_says_what_the_capture_last_reported():
    health = CameraHealth()
    why = "camera lawn refused the username or password (RTSP 401 Unauthorized)"
    events = [e for s in range(0, 30) for e in health.tick(float(s), why)]
    assert [e.message for e in events] == [f"No video from the camera for 20 s: {why}"]


def test_a_camera_re_aimed_while_its_stream_was_down_is_moved_when_it_returns(clip):
    health = CameraHealth()
    play(health, clip, 0, TAMPER_AT)
    lost = [e for s in range(41, 120) for e in health.tick(float(s))]
    assert [e.kind for e in lost] == [HealthKind.STREAM_LOST]
    events: list[HealthEvent] = []
    for i in range(round(120 / STEP), round(170 / STEP)):
        events += health.observe(view(clip[i % len(clip)], dx=-51, dy=20), i * STEP)
    moved = only(events, HealthKind.CAMERA_MOVED, HealthState.RAISED)
    assert 120 + S.view_raise_after_s <= moved.t <= 120 + S.view_raise_after_s + SLACK


# --- learning and odd input --------------------------------------------------------------


def test_a_camera_covered_from_the_start_is_reported_and_not_learned_as_normal(clip):
    health = CameraHealth()
    events = play(health, clip, 0, 60, lambda im: np.zeros_like(im))
    assert [(e.kind, e.state) for e in events] == [(HealthKind.LENS_COVERED, HealthState.RAISED)]
    assert health.learning  # nothing usable seen yet
    play(health, clip, 60, 90)
    assert not health.learning


def test_a_new_resolution_restarts_learning_instead_of_raising(clip):
    health = CameraHealth()
    events = play(health, clip, 0, 60)
    wide = lambda im: np.ascontiguousarray(im[60:420])  # noqa: E731  (640x360: 16:9 now)
    events += play(health, clip, 60, 150, wide)
    assert events == []
    assert not health.learning  # re-learned on the new shape


def test_frames_that_are_not_images_get_a_clear_error(clip):
    health = CameraHealth()
    for bad in (None, np.zeros((480, 640, 3), np.float32), np.zeros((4, 4, 3), np.uint8)):
        with pytest.raises(ValueError, match="frame"):
            health.observe(bad, 0.0)  # type: ignore[arg-type]
    assert play(health, clip, 0, 30) == []  # the monitor still works afterwards
    grey = cv2.cvtColor(view(clip[0]), cv2.COLOR_BGR2GRAY)
    assert health.observe(grey, 31.0) == []  # grey frames are fine too


def test_disabled_health_reports_nothing(clip):
    health = CameraHealth(HealthSettings(enabled=False))
    assert play(health, clip, 0, 60, lambda im: np.zeros_like(im)) == []
    assert health.tick(500.0) == []


def test_settings_refuse_unknown_keys_and_nonsense():
    with pytest.raises(ValidationError, match="extra"):
        HealthSettings(raise_after=5)  # type: ignore[call-arg]
    with pytest.raises(ValidationError):
        HealthSettings(defocus_ratio=1.5)


def test_every_alert_kind_fits_the_protocol_pattern():
    pattern = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
    for kind in HealthKind:
        event = HealthEvent(kind, HealthState.RAISED, 0.0, 0.0, 1.0, "x", "m" * 400)
        fields = alert_fields(event)
        assert pattern.match(fields["kind"])
        assert fields["severity"] == ("minor" if kind is HealthKind.DEFOCUSED else "major")
        assert len(fields["message"]) <= 280


def test_a_clock_stepping_back_does_not_wedge_the_monitor(clip):
    health = CameraHealth()
    assert play(health, clip, 1000, 1060) == []
    # NTP steps the clock back by 15 minutes; then the lens is blacked out.
    events = play(health, clip, 100, 110)
    events += play(health, clip, 110, 140, lambda im: np.zeros_like(im))
    raised = only(events, HealthKind.LENS_COVERED, HealthState.RAISED)
    assert 110 + S.raise_after_s <= raised.t <= 110 + S.raise_after_s + SLACK
