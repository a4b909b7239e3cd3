"""What a camera's picture looks like, in a few numbers, and the reference view it should match.

:mod:`edge.camera_health` decides *when* something is wrong; this module only measures. All
measures are taken on a small grey copy of the frame (160 px wide by default), which averages
away sensor noise and compression blocks and keeps a whole check near 1 ms (0.3 ms to shrink
a 768x576 frame, 0.6 ms to measure, half of that the phase correlation):

* **brightness** and **contrast**: mean and standard deviation of the grey levels. A covered
  lens collapses the contrast; a blinded one blows most pixels out to white.
* **sharpness**: how much of the picture's detail is fine detail (mean absolute Laplacian over
  mean gradient). Blur removes fine detail first; darker or unevenly lit pictures keep the
  ratio. Reported as a share of the reference view's sharpness.
* **view match**: how well the picture's edges line up with the reference view's edges
  (normalized cross-correlation of gradient magnitudes divided by the local brightness).
  Edges stay where they are when the light changes, and people walking through cover only a
  small part of them; a rotated, zoomed or re-aimed camera loses most of them. Reported as a
  share of the match a healthy picture normally reaches.
* **shift**: the translation between the picture and the reference, by phase correlation of the
  edge maps (``cv2.phaseCorrelate``), as a fraction of the frame width: a camera knocked sideways.

The :class:`ReferenceView` is the mean edge map of the pictures seen during a warm-up, then an
exponential average with a half-life of minutes, fed only healthy pictures by the caller.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

#: Grey level at or above which a pixel counts as blown out (white).
BLOWN_OUT_LEVEL = 235
#: Phase-correlation peaks weaker than this are noise, not a shift of the view.
MIN_SHIFT_RESPONSE = 0.15
#: Fewest pictures a warm-up learns from, however short ``warmup_s`` is.
MIN_WARMUP_SAMPLES = 5
#: Most pictures a warm-up keeps (each is a small float32 edge map: 77 KB at 160x120).
MAX_WARMUP_SAMPLES = 60
#: Longest time step an average update counts, so one update never replaces the reference.
MAX_LEARN_STEP_S = 10.0


def small_grey(image: np.ndarray, width: int) -> np.ndarray:
    """``image`` (BGR or grey uint8) shrunk to ``width`` pixels wide, as grey uint8.

    A straight ``INTER_AREA`` resize by a fractional factor (768 -> 160 is 4.8x) costs ~2 ms;
    a bilinear step to twice the width then an exact 2x area average costs ~0.3 ms and still
    averages 16 source pixels into each output pixel. Converting to grey last is cheapest.
    """
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8:
        raise ValueError("a frame must be a uint8 numpy array (as OpenCV decodes it)")
    if image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[2] not in (1, 3, 4)):
        raise ValueError(f"a frame must be HxW or HxWx3, got shape {image.shape}")
    h, w = image.shape[:2]
    if h < 8 or w < 8:
        raise ValueError(f"frame too small to judge: {w}x{h}")
    size = (width, max(8, round(h * width / w)))
    small = image
    if w > 2 * width:
        small = cv2.resize(image, (2 * size[0], 2 * size[1]), interpolation=cv2.INTER_LINEAR)
    small = cv2.resize(small, size, interpolation=cv2.INTER_AREA)
    if small.ndim == 3 and small.shape[2] == 4:
        return cv2.cvtColor(small, cv2.COLOR_BGRA2GRAY)
    if small.ndim == 3 and small.shape[2] == 3:
        return cv2.cvtColor(small, cv2.COLOR_BGR2GRAY)
    return small.reshape(size[1], size[0])


def structure(grey: np.ndarray) -> tuple[np.ndarray, float]:
    """The picture's edge map and its sharpness, both blind to how it is lit.

    Edges: gradient magnitude divided by the large-scale brightness around it, then blurred a
    little. Dividing by the local light means a floodlight or the low sun brightening one side
    of the scene changes the map hardly at all; the small blur lets a pole swaying by a pixel
    still line up. Sharpness: mean absolute Laplacian over mean gradient, i.e. how much of the
    picture's detail is fine detail; blur removes the fine detail first, light changes neither.
    """
    g = grey.astype(np.float32)
    gx = cv2.Sobel(g, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(g, cv2.CV_32F, 0, 1, ksize=3)
    magnitude = cv2.magnitude(gx, gy)
    fine = float(np.abs(cv2.Laplacian(g, cv2.CV_32F)).mean())
    sharp = fine / max(float(cv2.mean(magnitude)[0]), 1e-3)
    edges = cv2.GaussianBlur(magnitude, (0, 0), 1.5) / (_local_light(g) + 16.0)
    return edges, sharp


def _local_light(g: np.ndarray) -> np.ndarray:
    """Brightness at the scale of a tenth of the frame: a Gaussian blur done at a quarter of
    the size and scaled back (0.04 ms instead of 0.6 ms for a sigma-16 blur at full size)."""
    h, w = g.shape
    quarter = cv2.resize(g, (max(1, w // 4), max(1, h // 4)), interpolation=cv2.INTER_AREA)
    blurred = cv2.GaussianBlur(quarter, (0, 0), max(w / 40, 1.0))
    return cv2.resize(blurred, (w, h), interpolation=cv2.INTER_LINEAR)


def _centred(a: np.ndarray) -> tuple[np.ndarray, float]:
    c = a - float(a.mean())
    return c, float(np.sqrt(float((c * c).sum())))


def _ncc(a_centred: np.ndarray, a_norm: float, b: np.ndarray) -> float:
    """Normalized cross-correlation at zero shift, -1..1 (0 for a flat map)."""
    b_centred, b_norm = _centred(b)
    if a_norm <= 1e-6 or b_norm <= 1e-6:
        return 0.0
    return float((a_centred * b_centred).sum()) / (a_norm * b_norm)


@dataclass(frozen=True, eq=False)
class ViewMeasures:
    """One check of the picture. The reference-relative measures are None while learning."""

    brightness: float  # mean grey level 0..255
    contrast: float  # grey-level standard deviation
    blown_out: float  # share of pixels at or above BLOWN_OUT_LEVEL
    change: float | None  # mean grey-level change since the previous check
    sharpness_raw: float
    sharpness: float | None = None  # share of the reference's sharpness
    match: float | None = None  # view match as a share of the normal match
    shift: float | None = None  # translation from the reference, fraction of the width
    match_raw: float | None = None
    edges: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), np.float32), repr=False)

    def shifted(self, limit: float) -> bool:
        return self.shift is not None and self.shift >= limit


def measure_view(
    grey: np.ndarray, previous: np.ndarray | None, reference: ReferenceView
) -> ViewMeasures:
    """Measure one small grey picture against the previous check and the reference view."""
    mean, std = (float(v[0, 0]) for v in cv2.meanStdDev(grey))
    blown_out = float(np.count_nonzero(grey >= BLOWN_OUT_LEVEL)) / grey.size
    change = None
    if previous is not None and previous.shape == grey.shape:
        change = float(cv2.absdiff(grey, previous).mean())
    edges, sharp = structure(grey)
    rel = reference.compare(edges, sharp)
    return ViewMeasures(mean, std, blown_out, change, sharp, *rel, edges=edges)


class ReferenceView:
    """The camera's normal view: learned from the first ``warmup_s`` seconds of usable
    pictures, then followed with a half-life of ``half_life_s`` while the camera is healthy."""

    def __init__(self, warmup_s: float, half_life_s: float) -> None:
        self.warmup_s = warmup_s
        self.half_life_s = half_life_s
        self.reset()

    def reset(self) -> None:
        self._samples: list[tuple[np.ndarray, float]] = []
        self._first_t: float | None = None
        self._last_t: float | None = None
        self._edges: np.ndarray | None = None
        self._sharpness = 1.0
        self._match = 1.0  # the match a healthy picture normally reaches
        self._centred = np.zeros((0, 0), np.float32)
        self._norm = 0.0
        self._windowed = np.zeros((0, 0), np.float32)
        self._window = np.zeros((0, 0), np.float32)

    @property
    def ready(self) -> bool:
        return self._edges is not None

    def compare(
        self, edges: np.ndarray, sharp: float
    ) -> tuple[float | None, float | None, float | None, float | None]:
        """(sharpness share, match share, shift fraction, raw match) against the reference,
        all None while learning or when the frame size changed (which restarts learning)."""
        if self._edges is None:
            return None, None, None, None
        if edges.shape != self._edges.shape:
            self.reset()  # a new resolution or aspect: the old view cannot be compared
            return None, None, None, None
        raw = _ncc(self._centred, self._norm, edges)
        # phaseCorrelate with a window argument multiplies its inputs in place (OpenCV 5):
        # window a copy ourselves and pass no window.
        (dx, dy), response = cv2.phaseCorrelate(self._windowed, edges * self._window)
        shift = float(np.hypot(dx, dy)) / edges.shape[1] if response >= MIN_SHIFT_RESPONSE else 0.0
        return sharp / max(self._sharpness, 1e-6), raw / max(self._match, 0.05), shift, raw

    def learn(self, m: ViewMeasures, t: float) -> None:
        """Take a healthy picture into the reference (the caller decides it is healthy)."""
        if self._edges is None:
            self._warm_up(m, t)
            return
        if m.edges.shape != self._edges.shape or m.match_raw is None:
            return
        last = t if self._last_t is None else self._last_t
        step = min(max(t - last, 0.0), MAX_LEARN_STEP_S)
        self._last_t = t
        a = 1.0 - 0.5 ** (step / self.half_life_s)
        if a <= 0.0:
            return
        self._edges = cv2.addWeighted(self._edges, 1.0 - a, m.edges, a, 0.0)
        self._sharpness += a * (m.sharpness_raw - self._sharpness)
        self._match += a * (m.match_raw - self._match)
        self._prepare()

    def _warm_up(self, m: ViewMeasures, t: float) -> None:
        if self._samples and m.edges.shape != self._samples[0][0].shape:
            self._samples.clear()  # the resolution changed mid-warm-up: start over
        if not self._samples or (self._first_t is not None and t < self._first_t):
            self._first_t = t  # the first sample, or the clock stepped back
        if len(self._samples) < MAX_WARMUP_SAMPLES:
            self._samples.append((m.edges, m.sharpness_raw))
        n = len(self._samples)
        first = t if self._first_t is None else self._first_t
        if n < MIN_WARMUP_SAMPLES or t - first < self.warmup_s:
            return
        stack = np.stack([e for e, _ in self._samples])
        total = stack.sum(axis=0)
        # The normal match: each sample against the mean of the *others*, so a sample does not
        # inflate its own score; the median ignores the odd crowded moment.
        matches = []
        for e in stack:
            c, norm = _centred((total - e) / (n - 1))
            matches.append(_ncc(c, norm, e))
        self._edges = (total / n).astype(np.float32)
        self._sharpness = float(np.median([s for _, s in self._samples]))
        self._match = float(np.median(matches))
        self._samples = []
        self._last_t = t
        self._prepare()

    def _prepare(self) -> None:
        assert self._edges is not None
        self._centred, self._norm = _centred(self._edges)
        h, w = self._edges.shape
        if self._window.shape != (h, w):
            self._window = cv2.createHanningWindow((w, h), cv2.CV_32F)
        self._windowed = self._edges * self._window
