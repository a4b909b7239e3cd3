"""``CameraHealth``: notice when a camera stops being useful, and say so once.

A security camera fails quietly. The stream drops, or the encoder hangs and repeats its last
frame; someone tapes over the lens, shines a torch into it or bumps it so it films a wall; rain
or a cobweb leaves it out of focus. Nothing in the detection pipeline notices, because an empty
picture has no intruders in it. One :class:`CameraHealth` per camera watches for six conditions
(:class:`HealthKind`):

* ``stream_lost``: no frame for ``lost_after_s`` (checked by :meth:`CameraHealth.tick`);
* ``stream_frozen``: frames arrive but the picture has not changed at all for ``frozen_after_s``;
* ``lens_covered``: the picture collapsed to one flat tone (a hand, tape, a bag, black);
* ``blinded``: most of the picture is blown out to white (a torch, the sun);
* ``defocused``: the picture lost its sharpness compared with the camera's normal view;
* ``camera_moved``: the view no longer lines up with the reference view it learned.

How it stays cheap: the picture is measured at most once per ``check_interval_s`` (1 s), on a
160 px wide grey copy (see :mod:`edge.camera_view`): about 1 ms per check; the frames in
between only prove the stream is alive (microseconds). Call :meth:`CameraHealth.observe` with
every frame; at 10 fps that averages about 0.1 ms per frame.

How it stays quiet: each condition is a :class:`_Hold` with hysteresis in time. It is *raised*
once when it has held without a break for its raise time and *cleared* once when it has been
absent without a break for ``clear_after_s``. A passing cloud, a bus or one dropped frame never
lasts long enough; a flickering condition keeps an alert raised instead of flapping. The
reference view is learned during ``warmup_s`` and then refreshed slowly, only while the camera
is healthy, so a tamper is never learned as the new normal (after a deliberate re-aim, call
:meth:`CameraHealth.relearn`).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, replace
from enum import StrEnum

import numpy as np

from contract.camera_settings import HealthSettings
from contract.protocol import Severity
from edge.camera_view import ReferenceView, ViewMeasures, measure_view, small_grey


class HealthKind(StrEnum):
    """What is wrong with the camera. The values are also the alert kinds on the wire."""

    STREAM_LOST = "stream_lost"
    STREAM_FROZEN = "stream_frozen"
    LENS_COVERED = "lens_covered"
    BLINDED = "blinded"
    DEFOCUSED = "defocused"
    CAMERA_MOVED = "camera_moved"


class HealthState(StrEnum):
    RAISED = "raised"
    CLEARED = "cleared"


@dataclass(frozen=True)
class HealthEvent:
    """A condition was raised or cleared. ``value`` is the measure named by ``measure``
    when it happened and ``threshold`` the setting it was compared with."""

    kind: HealthKind
    state: HealthState
    t: float
    value: float
    threshold: float
    measure: str
    message: str

    @property
    def raised(self) -> bool:
        return self.state is HealthState.RAISED


class _Hold:
    """Hysteresis in time for one condition: raise after ``raise_after`` seconds of it
    without a break, clear after ``clear_after`` seconds of its absence without a break."""

    def __init__(self, raise_after: float, clear_after: float) -> None:
        self.raise_after = raise_after
        self.clear_after = clear_after
        self.raised = False
        self.on_since: float | None = None  # start of the current run of "condition holds"
        self.off_since: float | None = None  # start of the current run of "condition absent"

    @property
    def quiet(self) -> bool:
        """Neither raised nor on its way to being raised."""
        return not self.raised and self.on_since is None

    def update(self, t: float, active: bool, since: float | None = None) -> HealthState | None:
        """Feed one observation; returns the new state when it changes."""
        if active:
            self.off_since = None
            if self.on_since is None:
                self.on_since = t if since is None else since
            if not self.raised and t - self.on_since >= self.raise_after:
                self.raised = True
                return HealthState.RAISED
        else:
            self.on_since = None
            if self.raised:
                if self.off_since is None:
                    self.off_since = t
                if t - self.off_since >= self.clear_after:
                    self.raised = False
                    self.off_since = None
                    return HealthState.CLEARED
        return None

    def interrupt(self) -> None:
        """Forget runs in progress (after a gap in observations); keep the raised state."""
        self.on_since = None
        self.off_since = None


_IMAGE_KINDS = (
    HealthKind.STREAM_FROZEN,
    HealthKind.LENS_COVERED,
    HealthKind.BLINDED,
    HealthKind.DEFOCUSED,
    HealthKind.CAMERA_MOVED,
)


class CameraHealth:
    """Health monitor of one camera. Thread-safe: ``observe`` from the frame loop and
    ``tick`` from a timer may run on different threads.

    ``t`` is seconds on one clock shared by ``observe`` and ``tick``. For a live camera use
    ``time.monotonic()``: a gateway without a battery clock boots in 1970 and jumps decades
    when NTP syncs, which would look like a lost stream. Replays can use ``Frame.timestamp``.
    A clock that steps backwards restarts the hold timers rather than wedging them.
    """

    def __init__(self, settings: HealthSettings | None = None) -> None:
        self.settings = s = settings or HealthSettings()
        self._holds = {
            HealthKind.STREAM_LOST: _Hold(0.0, s.clear_after_s),  # the wait is in the test
            HealthKind.STREAM_FROZEN: _Hold(s.frozen_after_s, s.clear_after_s),
            HealthKind.LENS_COVERED: _Hold(s.raise_after_s, s.clear_after_s),
            HealthKind.BLINDED: _Hold(s.raise_after_s, s.clear_after_s),
            HealthKind.DEFOCUSED: _Hold(s.view_raise_after_s, s.clear_after_s),
            HealthKind.CAMERA_MOVED: _Hold(s.view_raise_after_s, s.clear_after_s),
        }
        self._reference = ReferenceView(s.warmup_s, s.reference_half_life_s)
        self._lock = threading.Lock()
        self._started: float | None = None
        self._last_frame: float | None = None
        self._last_check: float | None = None
        self._previous: np.ndarray | None = None  # grey copy at the previous check
        #: The measures of the latest check (None before the first), for status pages.
        self.measures: ViewMeasures | None = None

    @property
    def raised(self) -> set[HealthKind]:
        """The conditions currently raised."""
        with self._lock:
            return {kind for kind, hold in self._holds.items() if hold.raised}

    @property
    def learning(self) -> bool:
        """True while the reference view is still being learned (no defocus/moved checks)."""
        return not self._reference.ready

    def relearn(self) -> None:
        """Forget the reference view and learn it again: call after deliberately re-aiming or
        refocusing the camera; a raised ``camera_moved`` then clears once the new view holds."""
        with self._lock:
            self._reference.reset()

    # --- inputs ---------------------------------------------------------------------------

    def tick(self, t: float, cause: str | None = None) -> list[HealthEvent]:
        """Check for a lost stream; call every few seconds, frames or not. ``cause`` is what
        the capture last said went wrong (a refused password, a timeout): a raised
        ``stream_lost`` says it, so the officer knows whether to send a technician or fix a
        password."""
        if not self.settings.enabled:
            return []
        with self._lock:
            if self._started is None:
                self._started = t
            last = self._last_frame if self._last_frame is not None else self._started
            gap = t - last
            state = self._holds[HealthKind.STREAM_LOST].update(t, gap >= self.settings.lost_after_s)
            if state is None:
                return []
            event = self._event(HealthKind.STREAM_LOST, state, t, gap)
            if cause and event.raised:
                event = replace(event, message=f"{event.message}: {cause[:200]}")
            return [event]

    def observe(self, image: np.ndarray, t: float) -> list[HealthEvent]:
        """Note a frame (BGR or grey uint8, any size) taken at ``t``; measure it when a check
        is due. Raises ``ValueError`` for something that is not an image."""
        if not self.settings.enabled:
            return []
        grey_needed = self._check_due(t)
        if not grey_needed:
            with self._lock:
                return self._frame_arrived(t)
        grey = small_grey(image, self.settings.frame_width)  # outside the lock: the costly bit
        with self._lock:
            events = self._frame_arrived(t)
            events += self._check(grey, t)
            return events

    # --- internals ------------------------------------------------------------------------

    def _check_due(self, t: float) -> bool:
        last = self._last_check
        # A clock that went backwards (NTP step, file restart) starts the interval again.
        return last is None or t < last or t - last >= self.settings.check_interval_s

    def _frame_arrived(self, t: float) -> list[HealthEvent]:
        if self._started is None:
            self._started = t
        last = self._last_frame
        if last is not None and (t - last >= self.settings.lost_after_s or t < last):
            # A long gap or a clock step back: half-built runs of picture conditions no longer
            # mean anything (the stream's own hold measures the gap, so it keeps its run).
            kinds = _IMAGE_KINDS if t >= last else tuple(self._holds)
            for kind in kinds:
                self._holds[kind].interrupt()
            self._previous = None
        self._last_frame = t
        state = self._holds[HealthKind.STREAM_LOST].update(t, False)
        return [] if state is None else [self._event(HealthKind.STREAM_LOST, state, t, 0.0)]

    def _check(self, grey: np.ndarray, t: float) -> list[HealthEvent]:
        s = self.settings
        m = measure_view(grey, self._previous, self._reference)
        self._previous, self._last_check, self.measures = grey, t, m
        events: list[HealthEvent] = []

        def feed(kind: HealthKind, active: bool, value: float) -> None:
            state = self._holds[kind].update(t, active)
            if state is not None:
                events.append(self._event(kind, state, t, value))

        blinded = m.blown_out >= s.blown_out_share
        covered = m.contrast < s.min_contrast and not blinded
        feed(HealthKind.BLINDED, blinded, m.blown_out)
        feed(HealthKind.LENS_COVERED, covered, m.contrast)
        if blinded or covered:
            # A blank picture says nothing about freezing, focus or aim: leave those as they are.
            return events
        frozen = m.change is not None and m.change <= _FROZEN_CHANGE
        if m.change is not None:
            feed(HealthKind.STREAM_FROZEN, frozen, m.change)
        defocused = m.sharpness is not None and m.sharpness < s.defocus_ratio
        if m.sharpness is not None:
            feed(HealthKind.DEFOCUSED, defocused, m.sharpness)
        if m.match is not None and m.shift is not None and not defocused:
            # A blurred view cannot be lined up reliably: judge the aim only when in focus.
            moved = m.shifted(s.moved_shift) or m.match < s.moved_match
            feed(HealthKind.CAMERA_MOVED, moved, m.shift if m.shifted(s.moved_shift) else m.match)
        # Learn only from healthy pictures, so a tamper never becomes the new normal.
        healthy = all(self._holds[k].quiet for k in _IMAGE_KINDS)
        if not frozen and (healthy or not self._reference.ready):
            self._reference.learn(m, t)
        return events

    def _event(self, kind: HealthKind, state: HealthState, t: float, value: float) -> HealthEvent:
        s = self.settings
        threshold, measure = {
            HealthKind.STREAM_LOST: (s.lost_after_s, "seconds_without_frames"),
            HealthKind.STREAM_FROZEN: (_FROZEN_CHANGE, "grey_change"),
            HealthKind.LENS_COVERED: (s.min_contrast, "contrast"),
            HealthKind.BLINDED: (s.blown_out_share, "blown_out_share"),
            HealthKind.DEFOCUSED: (s.defocus_ratio, "sharpness_ratio"),
            HealthKind.CAMERA_MOVED: (s.moved_match, "view_match"),
        }[kind]
        m = self.measures
        if kind is HealthKind.CAMERA_MOVED and m is not None and m.shifted(s.moved_shift):
            value, threshold, measure = m.shift or 0.0, s.moved_shift, "shift_of_width"
        since = self._holds[kind].on_since
        held = t - since if state is HealthState.RAISED and since is not None else 0.0
        text = _describe(kind, state, value, threshold, measure, held)
        return HealthEvent(kind, state, t, round(value, 4), threshold, measure, text)


#: Mean grey-level change between two checks at or below which the picture is "identical".
#: Live video always changes more than this (sensor noise alone moves ~0.3 levels on average).
_FROZEN_CHANGE = 0.05


def _describe(
    kind: HealthKind, state: HealthState, value: float, threshold: float, measure: str, held: float
) -> str:
    if state is HealthState.CLEARED:
        return {
            HealthKind.STREAM_LOST: "Camera stream is back",
            HealthKind.STREAM_FROZEN: "Camera picture is moving again",
            HealthKind.LENS_COVERED: f"Camera picture is back (contrast {value:.0f})",
            HealthKind.BLINDED: f"Camera no longer blinded ({value:.0%} blown out)",
            HealthKind.DEFOCUSED: f"Camera back in focus (sharpness {value:.0%} of normal)",
            HealthKind.CAMERA_MOVED: "Camera view matches its reference again",
        }[kind]
    if kind is HealthKind.STREAM_LOST:
        return f"No video from the camera for {value:.0f} s"
    if kind is HealthKind.STREAM_FROZEN:
        return f"Camera picture frozen: identical frames for {held:.0f} s"
    if kind is HealthKind.LENS_COVERED:
        return (
            f"Lens covered or picture blank for {held:.0f} s "
            f"(contrast {value:.1f}, normal is above {threshold:.0f})"
        )
    if kind is HealthKind.BLINDED:
        return f"Camera blinded for {held:.0f} s: {value:.0%} of the picture blown out"
    if kind is HealthKind.DEFOCUSED:
        return f"Camera out of focus for {held:.0f} s: sharpness {value:.0%} of normal"
    if measure == "shift_of_width":
        return f"Camera moved: view shifted by {value:.0%} of its width for {held:.0f} s"
    return f"Camera moved or view blocked for {held:.0f} s: view matches {value:.0%} of normal"


#: Severity of a raised condition: a camera that sees nothing is as bad as no camera.
SEVERITY = {
    HealthKind.STREAM_LOST: Severity.MAJOR,
    HealthKind.STREAM_FROZEN: Severity.MAJOR,
    HealthKind.LENS_COVERED: Severity.MAJOR,
    HealthKind.BLINDED: Severity.MAJOR,
    HealthKind.DEFOCUSED: Severity.MINOR,
    HealthKind.CAMERA_MOVED: Severity.MAJOR,
}


def alert_fields(event: HealthEvent) -> dict[str, str]:
    """The fields of a ``contract.protocol.Alert`` for this event: kind, severity, message.

    A raised condition gets its kind's severity; a cleared one the same kind at ``info``
    severity, so the hub can pair them and an officer sees the camera recovered.
    """
    severity = SEVERITY[event.kind] if event.raised else Severity.INFO
    return {"kind": event.kind.value, "severity": severity.value, "message": event.message[:280]}
