"""Every API route with a sample request that should succeed for the right role: the table
the auth walk (tests/test_api_auth.py) and the body-limit tests go through. A new router adds
its sample values here (``SAMPLE_REQUESTS``, ``ADMIN_STATUS``) or the walk fails, naming it."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

import fastapi.routing
import pytest
from fastapi.routing import APIRoute
from hub_helpers import ApiHub, make_alert, snapshot_jpeg
from starlette.routing import Mount

from hub.api.app import PUBLIC_MOUNTS, PUBLIC_ROUTES
from hub.domain.units import Availability, Unit, UnitKind
from hub.incidents.requests import NewIncident


@pytest.fixture
def ids(hub: ApiHub) -> dict[str, str]:
    """One of everything a route can name: an alert with its snapshot, the incident it
    opened, a photo on that incident, and a user."""
    alert = make_alert()
    hub.ingest(alert)
    hub.storage.alerts.save_snapshot(
        alert.site, alert.node, alert.id, snapshot_jpeg(), datetime.now(UTC)
    )
    incident_id = hub.storage.alerts.get(alert.id).incident_id
    assert incident_id, "ingest files every alert under an incident"
    photo = hub.service.incidents.add_attachment(
        incident_id, "officer", "scene.jpg", snapshot_jpeg(), "image/jpeg"
    )
    unit_id, assignment_id = _units(hub)
    return {
        "alert_id": alert.id,
        "incident_id": incident_id,
        "attachment_id": str(photo.id),
        "username": "viewer",
        "unit_id": unit_id,
        "assignment_id": assignment_id,
        "node": "gw-plaza",
        "camera": "plaza",
        "area": "plaza",
        # Watchlist routes: ids nothing has, answered 404 (ADMIN_STATUS) past the session.
        "entry_id": "f" * 32,
        "auth_id": "f" * 32,
        "event_id": "no-such-event",  # event security: answered 404 past the session
        "action": "access",  # privacy: a subject access request
        "grant_id": "no-such-token",  # sharing: answered 404 past the session
        "month": "2026-11",  # safety: no monthly report written yet, answered 404
    }


#: The unit the dispatch routes name: available, with the admin as its member.
SAMPLE_UNIT = "d" * 32


def _units(hub: ApiHub) -> tuple[str, str]:
    """An available unit (the admin in it) and an assignment of another unit on a call."""
    now = datetime.now(UTC)
    for unit_id, callsign, members in ((SAMPLE_UNIT, "P-01", ["admin"]), ("e" * 32, "P-02", [])):
        hub.storage.units.create(
            Unit(
                id=unit_id,
                callsign=callsign,
                kind=UnitKind.CAR,
                members=members,
                availability=Availability.AVAILABLE,
                created_at=now,
                updated_at=now,
            )
        )
    call = NewIncident(
        source="call", kind="fight", severity="major", title="t", location={"area": "plaza"}
    )
    incident, _ = hub.service.incidents.open_call(call, "officer")
    assignment = hub.service.dispatch.dispatch(incident.id, "e" * 32, "officer")
    return SAMPLE_UNIT, assignment.id


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


PUSH_SUBSCRIPTION = {
    "endpoint": "https://push.example.net/send/abc",
    "keys": {"p256dh": _b64url(b"\x04" + b"\x01" * 64), "auth": _b64url(b"\x02" * 16)},
}

#: A request that a signed-in admin may make on each route with a body.
SAMPLE_REQUESTS = {
    ("POST", "/api/users"): {"json": {"username": "probe", "role": "viewer"}},
    ("POST", "/api/incidents"): {
        "json": {
            "source": "call",
            "kind": "burglary",
            "severity": "major",
            "title": "break-in reported by a neighbour",
            "location": {"area": "plaza"},
        }
    },
    ("POST", "/api/incidents/{incident_id}/transitions"): {"json": {"action": "acknowledge"}},
    ("POST", "/api/incidents/{incident_id}/notes"): {"json": {"text": "gate found open"}},
    ("POST", "/api/incidents/{incident_id}/attachments"): {
        "content": snapshot_jpeg(),
        "headers": {"content-type": "image/jpeg"},
    },
    ("POST", "/api/push/subscriptions"): {"json": PUSH_SUBSCRIPTION},
    ("DELETE", "/api/push/subscriptions"): {"json": {"endpoint": PUSH_SUBSCRIPTION["endpoint"]}},
    ("POST", "/api/units"): {"json": {"callsign": "P-99", "kind": "foot"}},
    ("PATCH", "/api/units/{unit_id}"): {"json": {"kind": "bicycle"}},
    ("POST", "/api/units/{unit_id}/trackers"): {"json": {"name": "car phone"}},
    ("POST", "/api/positions"): {"json": {"lat": 51.486, "lon": -0.124}},
    ("POST", "/api/incidents/{incident_id}/dispatch"): {"json": {"unit_id": SAMPLE_UNIT}},
    ("POST", "/api/assignments/{assignment_id}/steps"): {"json": {"step": "accept"}},
    ("PUT", "/api/arming/{area}"): {"json": {"mode": "armed"}},
    ("POST", "/api/watchlist/plates"): {
        "json": {
            "plate": "粤C·12345",
            "reason": "stolen",
            "owner": "officer",
            "case_ref": "C-1",
            "expires_at": "2099-01-01T00:00:00Z",
        }
    },
    ("POST", "/api/watchlist/authorisations"): {
        "json": {
            "legal_basis": "court order 12/2026",
            "case_number": "C-2",
            "approved_by": "supervisor",
            "areas": ["plaza"],
            "starts_at": "2026-01-01T00:00:00Z",
            "ends_at": "2099-01-01T00:00:00Z",
            "expires_at": "2099-01-01T00:00:00Z",
        }
    },
    ("POST", "/api/privacy/subjects/{action}"): {"json": {"plate": "粤C·12345"}},
    ("POST", "/api/privacy/subjects/face/{action}"): {
        "content": snapshot_jpeg(),
        "headers": {"content-type": "image/jpeg"},
    },
    ("POST", "/api/site-events"): {
        "json": {
            "id": "probe-event",
            "name": "Probe",
            "starts_at": "2026-01-01T18:00:00Z",
            "ends_at": "2026-01-01T23:00:00Z",
            "rings": {
                "core": {
                    "polygon": [
                        {"lat": 51.486, "lon": -0.1242},
                        {"lat": 51.486, "lon": -0.1240},
                        {"lat": 51.4859, "lon": -0.1241},
                    ]
                }
            },
        }
    },
    ("POST", "/api/watchlist/faces"): {
        "params": {"authorisation": "f" * 32},
        "content": snapshot_jpeg(),
        "headers": {"content-type": "image/jpeg"},
    },
    ("POST", "/api/watchlist/candidates/{alert_id}/dispatch"): {"json": {"unit_id": SAMPLE_UNIT}},
    ("POST", "/api/sharing/accounts"): {"json": {"name": "Probe brigade", "department": "fire"}},
    ("POST", "/api/sharing/tokens"): {
        "json": {
            "account_id": "no-such-account",
            "agreement": "DSA-probe",
            "datasets": ["areas"],
            "areas": ["plaza"],
            "data_from": "2026-01-01T00:00:00Z",
            "data_until": "2026-02-01T00:00:00Z",
            "expires_at": "2099-01-01T00:00:00Z",
        }
    },
    ("GET", "/api/share/v1/data"): {"params": {"dataset": "areas", "format": "geojson"}},
}

#: Routes whose answer to an admin is, by design, not a 2xx: it still proves the session
#: was accepted (a 401 or 403 would not be in this table).
ADMIN_STATUS = {
    ("POST", "/api/push/subscriptions"): 409,  # Web Push is off on this site
    ("GET", "/api/cameras/{node}/{camera}/live"): 422,  # a live view needs ?incident=
    # Watchlist: face recognition is off on the example site; no such entry or candidate.
    ("POST", "/api/watchlist/faces"): 409,
    # Privacy: the sample frame shows people far off, no face the model can describe.
    ("POST", "/api/privacy/subjects/face/{action}"): 422,
    # Event security: no such event.
    ("GET", "/api/site-events/{event_id}"): 404,
    ("GET", "/api/site-events/{event_id}/replay"): 404,
    ("DELETE", "/api/site-events/{event_id}"): 404,
    ("POST", "/api/watchlist/authorisations/{auth_id}/end"): 404,
    ("DELETE", "/api/watchlist/entries/{entry_id}"): 404,
    ("GET", "/api/watchlist/faces/{entry_id}/photo"): 404,
    ("GET", "/api/watchlist/candidates/{alert_id}/crop"): 404,
    ("POST", "/api/watchlist/candidates/{alert_id}/confirm"): 404,
    ("POST", "/api/watchlist/candidates/{alert_id}/reject"): 404,
    ("POST", "/api/watchlist/candidates/{alert_id}/dispatch"): 404,
    # Sharing: a token for no account is refused; no such token to revoke.
    ("POST", "/api/sharing/tokens"): 422,
    ("POST", "/api/sharing/tokens/{grant_id}/revoke"): 404,
    ("GET", "/api/safety/reports/{month}"): 404,
}


def app_routes(app) -> list[tuple[object, str, set[str]]]:
    """(route, full path, methods) of every route, also inside included routers (FastAPI
    0.165 keeps those as routers; older versions flattened them into ``app.routes``)."""
    iter_contexts = getattr(fastapi.routing, "iter_route_contexts", None)
    if iter_contexts is None:
        return [(r, r.path, getattr(r, "methods", set())) for r in app.routes]
    return [(c.original_route, c.path, c.methods or set()) for c in iter_contexts(app.routes)]


def route_requests(app, ids: dict[str, str]) -> list[tuple[str, str, str, dict]]:
    """(method, route, path, request kwargs) for every protected API route in the app."""
    out = []
    for route, route_path, methods in app_routes(app):
        if isinstance(route, Mount):
            assert route_path in PUBLIC_MOUNTS, f"unexpected mount {route_path}"
            continue
        assert isinstance(route, APIRoute), f"unexpected route type {route!r}"
        for method in sorted(methods):
            if (method, route_path) in PUBLIC_ROUTES:
                continue
            path = route_path
            for name, value in ids.items():
                path = path.replace("{" + name + "}", value)
            assert "{" not in path, f"add a sample value for {route_path}"
            kwargs = SAMPLE_REQUESTS.get((method, route_path), {})
            out.append((method, route_path, path, kwargs))
    return out
