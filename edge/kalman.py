"""``BoxKalman``: a constant-velocity Kalman filter for image boxes, batched over tracks.

The motion model SORT introduced and ByteTrack kept. A box is measured as
``(cx, cy, a, h)`` — centre, aspect ratio ``w / h`` and height — and the state adds a velocity
for each, 8 numbers in all. Between two detector runs every box is assumed to keep moving at
its velocity; the filter then blends that guess with the new detection, trusting each by its
uncertainty. This is what lets a tracker match a walking person whose box has moved further
than it overlaps, and keep a person's place for a moment while a lamp post hides them.

Noise scales with the box height (a near, tall person moves more pixels than a far one), with
the per-step weights SORT/DeepSORT published: position ``h / 20``, velocity ``h / 160``.

Time is measured in *steps*, a float: ``dt = 2.5`` predicts two and a half steps ahead with
the process noise of 2.5 steps. The caller decides what a step is (``ByteTracker`` uses a
fixed number of seconds), so skipped frames widen the uncertainty instead of being ignored.

Every function takes and returns stacks: ``mean`` [N, 8], ``cov`` [N, 8, 8], one row per track,
so one call serves all tracks of a frame.
"""

from __future__ import annotations

import numpy as np

#: Noise weights relative to the box height, per step (SORT/DeepSORT's values).
POSITION_WEIGHT = 1.0 / 20
VELOCITY_WEIGHT = 1.0 / 160
# The aspect ratio barely changes for a walking person: small fixed noise, not height-scaled.
_ASPECT_STD = 1e-2
_ASPECT_VEL_STD = 1e-5
_ASPECT_MEAS_STD = 1e-1


def xyxy_to_xyah(xyxy: np.ndarray) -> np.ndarray:
    """[N,4] corner boxes → [N,4] ``(cx, cy, w/h, h)`` measurements (float64)."""
    b = np.asarray(xyxy, dtype=np.float64).reshape(-1, 4)
    w = b[:, 2] - b[:, 0]
    h = b[:, 3] - b[:, 1]
    return np.stack([b[:, 0] + w / 2, b[:, 1] + h / 2, w / np.maximum(h, 1e-9), h], axis=1)


def xyah_to_xyxy(xyah: np.ndarray) -> np.ndarray:
    """[N,≥4] states or measurements → [N,4] corner boxes (float32)."""
    s = np.asarray(xyah, dtype=np.float64).reshape(len(xyah), -1)
    h = np.maximum(s[:, 3], 0.0)
    w = np.maximum(s[:, 2], 0.0) * h
    cx, cy = s[:, 0], s[:, 1]
    return np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1).astype(np.float32)


class BoxKalman:
    """Initiate, predict and correct stacks of box states. Holds no per-track data itself."""

    def __init__(
        self, position_weight: float = POSITION_WEIGHT, velocity_weight: float = VELOCITY_WEIGHT
    ) -> None:
        self.position_weight = position_weight
        self.velocity_weight = velocity_weight

    def initiate(self, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """New tracks from measurements ``z`` [N,4]: at rest, with a wide velocity prior."""
        z = np.asarray(z, dtype=np.float64).reshape(-1, 4)
        n = len(z)
        mean = np.concatenate([z, np.zeros((n, 4))], axis=1)
        h = z[:, 3]
        p, v = self.position_weight, self.velocity_weight
        # Unknown velocity: start it 10 times less certain than one step of noise.
        std = np.stack(
            [
                2 * p * h,
                2 * p * h,
                np.full(n, _ASPECT_STD),
                2 * p * h,
                10 * v * h,
                10 * v * h,
                np.full(n, _ASPECT_VEL_STD),
                10 * v * h,
            ],
            axis=1,
        )
        cov = np.zeros((n, 8, 8))
        idx = np.arange(8)
        cov[:, idx, idx] = std**2
        return mean, cov

    def predict(
        self, mean: np.ndarray, cov: np.ndarray, dt: np.ndarray | float
    ) -> tuple[np.ndarray, np.ndarray]:
        """Move every state ``dt`` steps ahead (``dt`` a scalar or one value per track, ≥ 0)."""
        n = len(mean)
        if n == 0:
            return mean.copy(), cov.copy()
        dt = np.clip(np.broadcast_to(np.asarray(dt, dtype=np.float64), (n,)), 0.0, None)
        f = np.broadcast_to(np.eye(8), (n, 8, 8)).copy()
        f[:, np.arange(4), np.arange(4) + 4] = dt[:, None]
        h = mean[:, 3]
        p, v = self.position_weight, self.velocity_weight
        std = np.stack(
            [
                p * h,
                p * h,
                np.full(n, _ASPECT_STD),
                p * h,
                v * h,
                v * h,
                np.full(n, _ASPECT_VEL_STD),
                v * h,
            ],
            axis=1,
        )
        # Random-walk noise: variance grows linearly with the time that passed.
        q = np.zeros((n, 8, 8))
        idx = np.arange(8)
        q[:, idx, idx] = std**2 * dt[:, None]
        new_mean = np.einsum("nij,nj->ni", f, mean)
        new_cov = f @ cov @ np.transpose(f, (0, 2, 1)) + q
        return new_mean, new_cov

    def update(
        self, mean: np.ndarray, cov: np.ndarray, z: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Correct each state with its measurement ``z`` [N,4] (row i belongs to track i)."""
        z = np.asarray(z, dtype=np.float64).reshape(-1, 4)
        n = len(mean)
        if n == 0:
            return mean.copy(), cov.copy()
        h = mean[:, 3]
        p = self.position_weight
        r_std = np.stack([p * h, p * h, np.full(n, _ASPECT_MEAS_STD), p * h], axis=1)
        # H picks the first four state entries, so H P Hᵀ and P Hᵀ are plain slices.
        s = cov[:, :4, :4].copy()
        idx = np.arange(4)
        s[:, idx, idx] += r_std**2
        gain = np.transpose(np.linalg.solve(s, cov[:, :4, :]), (0, 2, 1))  # K = P Hᵀ S⁻¹, [N,8,4]
        innovation = z - mean[:, :4]
        new_mean = mean + np.einsum("nij,nj->ni", gain, innovation)
        new_cov = cov - gain @ s @ np.transpose(gain, (0, 2, 1))
        # Keep it exactly symmetric: rounding would otherwise build up over a long-lived track.
        new_cov = (new_cov + np.transpose(new_cov, (0, 2, 1))) / 2
        return new_mean, new_cov
