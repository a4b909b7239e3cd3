"""Shared pieces for the dispatch tests: the example site's hub API on a manual clock, with
a second patrol account, and helpers that make units, trackers and incidents over HTTP."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import httpx
from hub_helpers import ApiHub, serve_api

from contract.siteconfig import SiteConfig
from hub.clock import ManualClock
from hub.domain.users import Role
from hub.storage.repositories import Storage

#: The example site's plaza (config/site.example.yaml): where its incidents are.
PLAZA = (51.485932, -0.124114)


def north_of(point: tuple[float, float], metres: float) -> tuple[float, float]:
    return point[0] + metres / 111_195, point[1]


@dataclass
class DispatchHub:
    api: ApiHub
    clock: ManualClock
    desk: httpx.Client  # officer
    admin: httpx.Client
    patrol: httpx.Client  # member of P-01
    patrol2: httpx.Client  # member of P-02

    @property
    def storage(self) -> Storage:
        return self.api.storage

    def unit(self, callsign: str, kind: str = "car", members: tuple[str, ...] = ()) -> dict:
        r = self.admin.post(
            "/api/units", json={"callsign": callsign, "kind": kind, "members": list(members)}
        )
        assert r.status_code == 201, r.text
        return r.json()

    def tracker(self, unit_id: str, device_id: str) -> dict:
        r = self.admin.post(
            f"/api/units/{unit_id}/trackers", json={"name": "car phone", "device_id": device_id}
        )
        assert r.status_code == 201, r.text
        return r.json()

    def osmand(
        self,
        tracker: dict,
        point: tuple[float, float],
        at: datetime | None = None,
        method: str = "GET",
        **extra,
    ) -> httpx.Response:
        """A position the way Traccar Client sends it (Unix seconds, speed in knots)."""
        fields = {
            "id": tracker["tracker_id"],
            "lat": f"{point[0]:.6f}",
            "lon": f"{point[1]:.6f}",
            "timestamp": str(int((at or self.clock()).timestamp())),
            "speed": "10.0",
            "bearing": "90",
            "accuracy": "8",
            "batt": "77",
        } | extra
        path = f"/osmand/{tracker['token']}"
        anonymous = self.api.client()
        if method == "GET":
            return anonymous.get(path, params=fields)
        return anonymous.post(path, data=fields)

    def incident(self) -> dict:
        """A phone call about the plaza, acknowledged by the duty desk."""
        r = self.desk.post(
            "/api/incidents",
            json={
                "source": "call",
                "kind": "burglary",
                "severity": "major",
                "title": "break-in at the plaza kiosk",
                "location": {"area": "plaza"},
            },
        )
        assert r.status_code == 201, r.text
        incident = r.json()
        r = self.desk.post(
            f"/api/incidents/{incident['id']}/transitions", json={"action": "acknowledge"}
        )
        assert r.status_code == 200, r.text
        return r.json()

    def place(self, unit_id: str, point: tuple[float, float], ago_s: float = 5) -> None:
        """The duty desk places a unit (as from a radio call)."""
        at = (self.clock() - timedelta(seconds=ago_s)).isoformat()
        r = self.desk.post(
            "/api/positions", json={"unit_id": unit_id, "lat": point[0], "lon": point[1], "at": at}
        )
        assert r.status_code == 201, r.text

    def dispatch(self, incident_id: str, unit_id: str) -> dict:
        r = self.desk.post(f"/api/incidents/{incident_id}/dispatch", json={"unit_id": unit_id})
        assert r.status_code == 201, r.text
        return r.json()

    def close(self) -> None:
        self.api.close()


def serve_dispatch(data_dir: Path, config: SiteConfig | None = None) -> DispatchHub:
    """The dispatch test hub; ``config`` replaces the example site's (e.g. Web Push on)."""
    clock = ManualClock()
    api = serve_api(data_dir, clock=clock, config=config)
    api.passwords["patrol2"] = api.accounts.create_user("patrol2", Role.PATROL)
    hub = DispatchHub(
        api,
        clock,
        desk=api.client("officer"),
        admin=api.client("admin"),
        patrol=api.client("patrol"),
        patrol2=_login(api, "patrol2"),
    )
    return hub


def _login(api: ApiHub, username: str) -> httpx.Client:
    client = api.client()
    r = client.post("/api/login", json={"username": username, "password": api.passwords[username]})
    assert r.status_code == 200, r.text
    return client
