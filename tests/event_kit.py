"""A site with an event on its plaza, three cameras feeding the rings, and the gateway
reports that fill them (for tests/test_event_*.py).

The rings sit around the example site's plaza (config/site.example.yaml's plan and
coordinates). Cameras ``north`` and ``south`` both see the core (overlap group ``stage``);
``south`` and ``east`` see disjoint parts of the control ring; ``east`` alone sees the
diversion ring. ``north`` and ``south`` are ground-calibrated, ``east`` is not.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from conftest import REPO

from contract.protocol import CameraStats, NodeRole, NodeStats, NodeStatus
from contract.siteconfig import SiteConfig, parse_site_config
from hub.storage.repositories import Storage

SITE_ID = "riverside"
NODE = "gw-square"
MIDDLE = (51.485932, -0.124114)  # the plaza's lamp post
START = datetime(2026, 12, 2, 20, 0, tzinfo=UTC)  # the event: 20:00 to 23:00 UTC
NOW = datetime(2026, 12, 2, 21, 0, tzinfo=UTC)  # ManualClock's default start


def square(half_lat: float, half_lon: float) -> list[dict]:
    lat, lon = MIDDLE
    corners = [(-1, -1), (-1, 1), (1, 1), (1, -1)]
    return [{"lat": lat + a * half_lat, "lon": lon + b * half_lon} for a, b in corners]


def image_ring(inset: float) -> dict:
    a, b = inset, 1 - inset
    return {"polygon": [[a, a], [b, a], [b, b], [a, b]]}


CALIBRATION = {
    "image": [[0.2, 0.4], [0.8, 0.4], [0.95, 0.9], [0.05, 0.9]],
    "ground_m": [[0, 20], [20, 20], [20, 0], [0, 0]],
}


def camera(name: str, offset: tuple[float, float], crowd: dict, calibrated: bool) -> dict:
    cam = {
        "name": name,
        "area": "plaza",
        "source": "footage/vtest_lawn_excerpt.mp4",
        "position": {"lat": MIDDLE[0] + offset[0], "lon": MIDDLE[1] + offset[1]},
        "crowd": [crowd],
    }
    if calibrated:
        cam["calibration"] = CALIBRATION
    return cam


EVENT = {
    "id": "fireworks",
    "name": "Lantern festival fireworks",
    "starts_at": START.isoformat(),
    "ends_at": (START + timedelta(hours=3)).isoformat(),
    "area": "plaza",
    "rings": {
        "diversion": {"polygon": square(0.0004, 0.0009), "limit": 300},
        "control": {"polygon": square(0.00025, 0.0005), "limit": 100},
        "core": {"polygon": square(0.0001, 0.00016), "limit": 40, "density_limit": 2.0},
    },
    "feeds": [
        {"camera": "north", "crowd": "stage", "ring": "core", "overlap": "stage"},
        {"camera": "south", "crowd": "stage", "ring": "core", "overlap": "stage"},
        {"camera": "south", "crowd": "stage", "ring": "control"},
        {"camera": "east", "crowd": "east", "ring": "control"},
        {"camera": "east", "crowd": "east", "ring": "diversion"},
    ],
}


def site_config(events: list[dict] | None = None) -> SiteConfig:
    stage = {"name": "stage", "control": image_ring(0.05), "core": image_ring(0.3)}
    east = {"name": "east", "diversion": image_ring(0.05), "control": image_ring(0.4)}
    data = {
        "version": 1,
        "site": {"id": SITE_ID, "name": "Riverside Compound", "timezone": "Europe/London"},
        "areas": [
            {
                "id": "plaza",
                "name": "Central plaza",
                "position": {"lat": MIDDLE[0], "lon": MIDDLE[1]},
            }
        ],
        "map": {
            "image": "riverside-plan.svg",
            "bounds": {
                "south_west": {"lat": 51.48550, "lon": -0.12550},
                "north_east": {"lat": 51.48658, "lon": -0.12319},
            },
        },
        "gateways": [
            {
                "node": NODE,
                "cameras": [
                    camera("north", (0.0002, 0.0), stage, calibrated=True),
                    camera("south", (-0.0002, 0.0), stage, calibrated=True),
                    camera("east", (0.0, 0.0007), east, calibrated=False),
                ],
            }
        ],
        "events": [EVENT] if events is None else events,
    }
    return parse_site_config(data, REPO / "config" / "site.yaml")


def stats(rings: dict[str, int], at: datetime, connected: bool = True) -> CameraStats:
    """A camera's stats with its crowd counts (``rule/ring`` -> people) measured at ``at``."""
    return CameraStats(
        camera_fps=10, process_fps=10, detect_fps=5, skipped_fps=0, skipped_frames=0,
        inference_ms=40, connected=connected, rings=rings, rings_at=at,
    )  # fmt: skip


def report(storage: Storage, at: datetime, cameras: dict[str, CameraStats]) -> None:
    """The gateway is online and has just sent these stats (what ingest stores)."""
    status = NodeStatus(
        site=SITE_ID, node=NODE, state="online", role=NodeRole.CAMERA_GATEWAY, ts=at
    )
    storage.nodes.record_status(status, at)
    message = NodeStats(site=SITE_ID, node=NODE, ts=at, uptime_s=600, cameras=cameras)
    storage.nodes.record_stats(message, at)
