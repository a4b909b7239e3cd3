"""The incident endpoints over real HTTP (uvicorn on a free port): roles, the 409 for every
impossible move, photos, idempotent reports from other systems, the audit trail."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

import httpx
import pytest
from incident_kit import (
    ILLEGAL,
    ROUTE_TO,
    IncidentDesk,
    example_config,
    jpeg_bytes,
    open_desk,
    png_bytes,
)

from hub.accounts import AccountService
from hub.api.app import create_app
from hub.api.auth import Authenticator, LoginThrottle
from hub.api.context import ApiContext
from hub.api.server import WebServer
from hub.dispatch.service import DispatchService
from hub.domain.incidents import TRANSITIONS, Action, IncidentState
from hub.domain.users import Role
from hub.incidents.attachments import MAX_ATTACHMENT_BYTES

CALL = {
    "source": "call",
    "kind": "burglary",
    "severity": "major",
    "title": "Break-in reported at the kiosk",
    "description": "Caller heard glass breaking",
    "caller": {"name": "Ibu Sari", "phone": "+62 812 5550 1234"},
    "location": {"area": "plaza"},
}
EXTERNAL = CALL | {"source": "external", "external_ref": "ALARMCO-5521"}
NO_ID = "0" * 32


@dataclass
class Hub:
    desk: IncidentDesk
    server: WebServer
    passwords: dict[str, str]
    clients: dict[str, httpx.Client] = field(default_factory=dict)

    def as_(self, role: str) -> httpx.Client:
        """A client signed in as the user named after ``role`` (bearer token)."""
        if role not in self.clients:
            r = httpx.post(
                self.server.url + "api/login",
                json={"username": role, "password": self.passwords[role]},
            )
            assert r.status_code == 200, r.text
            headers = {"Authorization": f"Bearer {r.json()['token']}"}
            self.clients[role] = httpx.Client(base_url=self.server.url, headers=headers)
        return self.clients[role]

    def call(self, **fields) -> dict:
        r = self.as_("officer").post("/api/incidents", json=CALL | fields)
        assert r.status_code == 201, r.text
        return r.json()

    def act(self, incident_id: str, action: str, role: str = "officer", **body) -> httpx.Response:
        return self.as_(role).post(
            f"/api/incidents/{incident_id}/transitions", json={"action": action} | body
        )

    def audit(self, action: str) -> list:
        return self.desk.storage.audit.entries(action=action)


@pytest.fixture(scope="module")
def hub(tmp_path_factory) -> Iterator[Hub]:
    desk = open_desk(tmp_path_factory.mktemp("hub"))
    accounts = AccountService(desk.storage, desk.clock)
    ctx = ApiContext(
        storage=desk.storage,
        bus=desk.bus,
        config=example_config(),
        clock=desk.clock,
        services={
            "accounts": accounts,
            "auth": Authenticator(accounts),
            "throttle": LoginThrottle(),
            "incidents": desk.service,
            "dispatch": DispatchService(desk.storage, desk.bus, desk.service, example_config()),
        },
    )
    server = WebServer(create_app(ctx), "127.0.0.1", 0)
    server.start()
    passwords = {r.value: accounts.create_user(r.value, r) for r in Role}
    hub = Hub(desk, server, passwords)
    yield hub
    for client in hub.clients.values():
        client.close()
    server.stop()
    desk.storage.close()


def test_an_officer_opens_a_call_and_works_it_to_the_end(hub):
    incident = hub.call()
    assert (incident["source"], incident["state"], incident["opened_by"]) == (
        "call",
        "new",
        "officer",
    )
    for action in ("acknowledge", "dispatch", "en_route", "arrive"):
        assert hub.act(incident["id"], action, note=f"{action} ok").status_code == 200
    r = hub.act(incident["id"], "resolve", outcome="arrest", note="two arrested")
    assert r.status_code == 200
    assert (r.json()["state"], r.json()["outcome"]) == ("resolved", "arrest")

    detail = hub.as_("viewer").get(f"/api/incidents/{incident['id']}").json()
    assert detail["incident"] == r.json()
    assert [t["action"] for t in detail["transitions"]] == [
        "acknowledge",
        "dispatch",
        "en_route",
        "arrive",
        "resolve",
    ]
    assert detail["transitions"][-1]["actor"] == "officer"
    assert [n["text"] for n in detail["notes"]] == ["Caller heard glass breaking"]


@pytest.mark.parametrize(("action", "state"), ILLEGAL, ids=lambda v: v.value)
def test_every_impossible_move_is_a_409_with_the_reason(hub, action, state):
    incident = hub.call()
    for step in ROUTE_TO[state]:
        extra = {"outcome": "handled"} if step is Action.RESOLVE else {}
        assert hub.act(incident["id"], step.value, **extra).status_code == 200
    extra = {"outcome": "handled"} if action is Action.RESOLVE else {}
    r = hub.act(incident["id"], action.value, **extra)
    assert r.status_code == 409
    allowed = ", ".join(s.value for s in TRANSITIONS[action][0])
    assert r.json() == {
        "detail": f"cannot {action.value} incident {incident['ref']}: it is {state.value}"
        f" (only {allowed} incidents can be)"
    }


def test_resolving_without_an_outcome_is_a_409_that_lists_them(hub):
    incident = hub.call()
    r = hub.act(incident["id"], "resolve")
    assert r.status_code == 409
    assert r.json()["detail"].startswith("resolving needs an outcome: one of arrest, handled")


@pytest.mark.parametrize(
    ("path_id", "body", "status"),
    [
        (NO_ID, {"action": "acknowledge"}, 404),
        ("not-an-id", {"action": "acknowledge"}, 422),
        (None, {"action": "teleport"}, 422),
        (None, {"action": "acknowledge", "outcome": "arrest"}, 422),
        (None, {"action": "acknowledge", "note": "x" * 1001}, 422),
    ],
)
def test_bad_transition_requests_are_4xx(hub, path_id, body, status):
    incident_id = path_id or hub.call()["id"]
    r = hub.as_("officer").post(f"/api/incidents/{incident_id}/transitions", json=body)
    assert r.status_code == status, r.text


def test_viewers_read_but_cannot_act(hub):
    incident = hub.call()
    viewer = hub.as_("viewer")
    assert viewer.get("/api/incidents").status_code == 200
    assert viewer.get("/api/incidents/queue").status_code == 200
    assert viewer.get(f"/api/incidents/{incident['id']}").status_code == 200
    assert hub.act(incident["id"], "acknowledge", role="viewer").status_code == 403
    base = f"/api/incidents/{incident['id']}"
    assert viewer.post(f"{base}/notes", json={"text": "hi"}).status_code == 403
    photo = {"content": jpeg_bytes(), "headers": {"content-type": "image/jpeg"}}
    assert viewer.post(f"{base}/attachments", **photo).status_code == 403
    assert viewer.post("/api/incidents", json=CALL).status_code == 403


def test_other_systems_may_only_report_external_incidents(hub):
    system = hub.as_("integration")
    r = system.post("/api/incidents", json=EXTERNAL)
    assert r.status_code == 201
    assert (r.json()["source"], r.json()["external_ref"]) == ("external", "ALARMCO-5521")
    assert system.post("/api/incidents", json=CALL).status_code == 403
    assert system.get("/api/incidents").status_code == 403
    assert system.get(f"/api/incidents/{r.json()['id']}").status_code == 403
    assert hub.act(r.json()["id"], "acknowledge", role="integration").status_code == 403
    # An officer may file an external report too (typed in from another desk's system).
    assert hub.as_("officer").post("/api/incidents", json=EXTERNAL).status_code == 201


def test_the_same_idempotency_key_twice_returns_the_first_incident(hub):
    system = hub.as_("integration")
    headers = {"Idempotency-Key": "alarmco-5521-a"}
    first = system.post("/api/incidents", json=EXTERNAL, headers=headers)
    again = system.post("/api/incidents", json=EXTERNAL, headers=headers)
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    changed = system.post("/api/incidents", json=EXTERNAL | {"severity": "minor"}, headers=headers)
    assert changed.status_code == 422
    assert "different request" in changed.json()["detail"]
    bad_key = system.post("/api/incidents", json=EXTERNAL, headers={"Idempotency-Key": "a b"})
    assert bad_key.status_code == 422


def test_concurrent_requests_with_one_key_open_one_incident(hub):
    start = threading.Barrier(6)
    ids: list[str] = []
    token = hub.as_("integration").headers["Authorization"]

    def send() -> None:
        with httpx.Client(base_url=hub.server.url, headers={"Authorization": token}) as c:
            start.wait()
            r = c.post("/api/incidents", json=EXTERNAL, headers={"Idempotency-Key": "burst-9"})
            assert r.status_code == 201
            ids.append(r.json()["id"])

    threads = [threading.Thread(target=send) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(ids) == 6 and len(set(ids)) == 1


@pytest.mark.parametrize(
    ("change", "status"),
    [
        ({"location": {"area": "harbour"}}, 422),  # not one of the site's areas
        ({"location": {}}, 422),
        ({"title": ""}, 422),
        ({"source": "alerts"}, 422),  # only the hub opens those
        ({"extra": 1}, 422),
    ],
)
def test_bad_reports_are_refused(hub, change, status):
    r = hub.as_("officer").post("/api/incidents", json=CALL | change)
    assert r.status_code == status, r.text


def test_notes_are_written_by_officers_and_checked(hub):
    incident = hub.call()
    officer = hub.as_("officer")
    r = officer.post(f"/api/incidents/{incident['id']}/notes", json={"text": "  on our way  "})
    assert r.status_code == 201
    assert (r.json()["text"], r.json()["author"]) == ("on our way", "officer")
    for bad in ({"text": ""}, {"text": "x" * 4001}, {}):
        assert officer.post(f"/api/incidents/{incident['id']}/notes", json=bad).status_code == 422
    assert officer.post(f"/api/incidents/{NO_ID}/notes", json={"text": "x"}).status_code == 404


def test_a_photo_goes_up_as_the_raw_body_and_comes_back_the_same(hub):
    incident = hub.call()
    base = f"/api/incidents/{incident['id']}/attachments"
    data = png_bytes()
    r = hub.as_("officer").post(
        base,
        params={"filename": "back door.png"},
        content=data,
        headers={"content-type": "image/png"},
    )
    assert r.status_code == 201, r.text
    attachment = r.json()
    assert (attachment["filename"], attachment["size"]) == ("back door.png", len(data))
    got = hub.as_("viewer").get(f"{base}/{attachment['id']}")
    assert got.status_code == 200
    assert (got.content, got.headers["content-type"]) == (data, "image/png")
    detail = hub.as_("viewer").get(f"/api/incidents/{incident['id']}").json()
    assert detail["attachments"] == [attachment]
    assert hub.as_("viewer").get(f"{base}/{attachment['id'] + 1000}").status_code == 404


@pytest.mark.parametrize(
    ("content_type", "body", "status"),
    [
        ("text/plain", b"hello", 415),
        ("image/gif", b"GIF89a", 415),
        ("image/jpeg", b"GIF89a\x01\x00", 415),  # claims JPEG, is not
        ("image/jpeg", png_bytes(), 415),  # a PNG is fine, but not sent as a JPEG
        ("image/jpeg", b"\xff\xd8\xff" + b"\0" * MAX_ATTACHMENT_BYTES, 413),
    ],
    ids=["text", "gif", "fake-jpeg", "png-as-jpeg", "too-big"],
)
def test_anything_but_a_jpeg_or_png_up_to_5_mib_is_refused(hub, content_type, body, status):
    incident = hub.call()
    r = hub.as_("officer").post(
        f"/api/incidents/{incident['id']}/attachments",
        content=body,
        headers={"content-type": content_type},
    )
    assert r.status_code == status
    assert hub.desk.storage.incidents.attachments(incident["id"]) == []


def test_the_detail_shows_the_incidents_alerts_with_their_snapshot_links(hub):
    alert = hub.desk.alert()
    hub.desk.storage.alerts.save_snapshot(
        alert.site, alert.node, alert.id, jpeg_bytes(), hub.desk.clock()
    )
    detail = hub.as_("viewer").get(f"/api/incidents/{alert.incident_id}").json()
    [shown] = detail["alerts"]
    assert shown["id"] == alert.id
    assert shown["snapshot_url"] == f"/api/alerts/{alert.id}/snapshot"
    assert detail["incident"]["alert_count"] == 1


def test_the_queue_and_the_list_answer_with_incidents(hub):
    critical = hub.call(severity="critical")
    queue = hub.as_("viewer").get("/api/incidents/queue").json()
    assert queue[0]["id"] == critical["id"]
    assert all(i["state"] in [s.value for s in IncidentState if s.is_open] for i in queue)
    viewer = hub.as_("viewer")
    page = viewer.get("/api/incidents", params={"limit": 2, "severity": "critical"}).json()
    assert page["items"][0]["id"] == critical["id"]
    for _ in range(2):  # three incidents at least: the history has a second page
        hub.call()
    page = viewer.get("/api/incidents", params={"limit": 2}).json()
    assert len(page["items"]) == 2 and page["next_cursor"]
    more = viewer.get("/api/incidents", params={"limit": 2, "cursor": page["next_cursor"]})
    assert more.status_code == 200
    assert more.json()["items"]  # the next page, without the first page's incidents
    assert not {i["id"] for i in more.json()["items"]} & {i["id"] for i in page["items"]}
    assert viewer.get("/api/incidents", params={"cursor": "garbage"}).status_code == 400
    assert viewer.get("/api/incidents", params={"state": "sleeping"}).status_code == 422


def test_people_s_actions_and_looks_are_audited(hub):
    incident = hub.call()
    incident_id = incident["id"]
    hub.act(incident_id, "acknowledge", note="seen")
    hub.as_("officer").post(f"/api/incidents/{incident_id}/notes", json={"text": "x"})
    hub.as_("officer").post(
        f"/api/incidents/{incident_id}/attachments",
        content=jpeg_bytes(),
        headers={"content-type": "image/jpeg"},
    )
    hub.as_("viewer").get(f"/api/incidents/{incident_id}")
    expected = {
        "incident.open": "officer",
        "incident.acknowledge": "officer",
        "incident.note": "officer",
        "incident.attachment": "officer",
        "incident.view": "viewer",
    }
    for action, username in expected.items():
        rows = [e for e in hub.audit(action) if e.target == incident_id]
        assert [e.username for e in rows] == [username], action
    [opened] = [e for e in hub.audit("incident.open") if e.target == incident_id]
    assert incident["ref"] in opened.detail


def test_the_response_time_report_is_for_supervisors(hub):
    hub.call()  # one plaza incident in the period, whichever tests ran before this one
    params = {"start": "2026-11-01T00:00:00Z", "end": "2026-12-31T00:00:00Z", "area": "plaza"}
    assert hub.as_("officer").get("/api/reports/response-times", params=params).status_code == 403
    r = hub.as_("supervisor").get("/api/reports/response-times", params=params)
    assert r.status_code == 200
    report = r.json()
    assert report["current"]["incidents"] > 0
    assert [s["segment"] for s in report["current"]["segments"]] == [
        "alert_to_ack",
        "ack_to_dispatch",
        "dispatch_to_en_route",
        "travel",
        "on_scene_to_resolved",
    ]
    assert {"previous_period", "last_year"} <= report.keys()
    assert hub.audit("report.response_times")[0].username == "supervisor"
    backwards = params | {"start": params["end"], "end": params["start"]}
    bad = hub.as_("supervisor").get("/api/reports/response-times", params=backwards)
    assert bad.status_code == 422
