"""Department tokens through the real hub API (HubService on a real SQLite file, HTTP on a
loopback port): a token reads only inside its datasets, areas and period, nothing after it
expires or is revoked, gets a 429 past its rate limit, and every request leaves an audit
row. The hub runs on a ManualClock: "after expiry" and "a minute later" are clock steps.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from hub_helpers import ApiHub, serve_api
from sharing_kit import alert_row, insert

from hub.clock import ManualClock

NOW = ManualClock()().replace(minute=0)


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[ApiHub]:
    api = serve_api(tmp_path / "hub", clock=ManualClock(NOW))
    yield api
    api.close()


def issue(hub: ApiHub, **scope) -> tuple[str, dict]:
    admin = hub.client("admin")
    r = admin.post(
        "/api/sharing/accounts",
        json={"name": "District fire brigade", "department": "fire", "contact": "duty room"},
    )
    assert r.status_code == 201, r.text
    body = {
        "account_id": r.json()["id"],
        "agreement": "DSA-2026-014 (fire brigade, hydrant access)",
        "datasets": ["alert_counts", "areas"],
        "areas": ["plaza"],
        "data_from": (NOW - timedelta(days=10)).isoformat(),
        "data_until": NOW.isoformat(),
        "expires_at": (NOW + timedelta(days=30)).isoformat(),
        "rate_per_min": 5,
    } | scope
    r = admin.post("/api/sharing/tokens", json=body)
    assert r.status_code == 201, r.text
    return r.json()["token"], r.json()["grant"]


def get(hub: ApiHub, token: str, **params):
    return hub.client(token=token).get("/api/share/v1/data", params=params)


def test_a_token_is_shown_once_stored_hashed_and_opens_no_session(hub):
    token, _ = issue(hub)
    assert token.startswith("vws_") and len(token) > 40
    register = hub.client("admin").get("/api/sharing/register").json()
    assert token not in str(register)
    [row] = register["tokens"]
    assert row["agreement"].startswith("DSA-2026-014") and row["status"] == "live"
    database = sqlite3.connect(hub.storage.data_dir / "hub.sqlite3")
    dump = "\n".join(database.iterdump())
    database.close()
    assert token not in dump
    # A sharing token is not a login: the officer API refuses it.
    assert hub.client(token=token).get("/api/alerts").status_code == 401


def test_a_token_reads_inside_its_scope_and_is_refused_outside_it_with_a_reason(hub):
    insert(
        hub.storage.alerts.database,
        "alerts",
        [
            alert_row(NOW - timedelta(hours=3) + timedelta(minutes=m), "plaza", "intrusion")
            for m in range(6)
        ],
    )
    token, _ = issue(hub, rate_per_min=100)
    ok = get(hub, token, dataset="alert_counts")
    assert ok.status_code == 200, ok.text
    assert [c["count"] for c in ok.json()["cells"]] == [6]
    assert get(hub, token, dataset="areas", format="geojson").status_code == 200

    refusals = {
        "dataset": get(hub, token, dataset="incident_counts"),
        "area": get(hub, token, dataset="alert_counts", area="north-gate"),
        "period": get(
            hub,
            token,
            dataset="alert_counts",
            start=(NOW - timedelta(days=11)).isoformat(),
            end=(NOW - timedelta(days=9)).isoformat(),
        ),
    }
    for what, r in refusals.items():
        assert r.status_code == 403, (what, r.text)
        assert "scope" in r.json()["detail"], what
    assert get(hub, "vws_not-a-token", dataset="alert_counts").status_code == 401
    assert get(hub, "", dataset="alert_counts").status_code == 401


def test_a_token_is_refused_after_it_expires_and_after_it_is_revoked(hub):
    token, grant = issue(hub, expires_at=(NOW + timedelta(days=2)).isoformat())
    assert get(hub, token, dataset="alert_counts").status_code == 200
    hub.service.api.clock.advance(days=2)
    expired = get(hub, token, dataset="alert_counts")
    assert expired.status_code == 403 and "expired" in expired.json()["detail"]

    token2, grant2 = issue(hub)
    admin = hub.client("admin")
    assert admin.post(f"/api/sharing/tokens/{grant2['id']}/revoke").status_code == 200
    revoked = get(hub, token2, dataset="alert_counts")
    assert revoked.status_code == 403 and "revoked" in revoked.json()["detail"]
    statuses = {t["id"]: t["status"] for t in admin.get("/api/sharing/register").json()["tokens"]}
    assert statuses == {grant["id"]: "expired", grant2["id"]: "revoked"}


def test_a_burst_over_the_rate_limit_gets_429_until_the_minute_has_passed(hub):
    token, _ = issue(hub, rate_per_min=5)
    answers = [get(hub, token, dataset="alert_counts").status_code for _ in range(7)]
    assert answers == [200] * 5 + [429] * 2
    late = get(hub, token, dataset="alert_counts")
    assert 1 <= int(late.headers["retry-after"]) <= 60
    hub.service.api.clock.advance(seconds=61)
    assert get(hub, token, dataset="alert_counts").status_code == 200


def test_every_request_is_audited_answered_or_refused(hub):
    token, grant = issue(hub, rate_per_min=100)
    get(hub, token, dataset="alert_counts", format="csv")
    get(hub, token, dataset="incident_counts")
    get(hub, "vws_forged", dataset="alert_counts")
    hub.client("viewer").get("/api/share/v1/data", params={"dataset": "areas"})
    reads = hub.storage.audit.entries(action="share.read")
    refused = hub.storage.audit.entries(action="share.refused")
    assert [(e.username, e.target) for e in reads] == [
        (f"share:{grant['account_id']}", grant["id"])
    ]
    assert "alert_counts.csv areas=plaza" in reads[0].detail
    details = sorted(e.detail.split(" ")[0] for e in refused)
    assert details == ["401", "403", "403"]
    assert hub.storage.audit.entries(action="sharing.token_issued")


def test_an_admin_previews_every_area_and_other_roles_are_refused(hub):
    admin = hub.client("admin")
    r = admin.get("/api/share/v1/data", params={"dataset": "areas", "format": "geojson"})
    assert r.status_code == 200
    assert {f["id"] for f in r.json()["features"]} == {"plaza", "north-gate"}
    assert r.headers["content-type"].startswith("application/geo+json")
    for role in ("viewer", "officer", "supervisor"):
        assert hub.client(role).get("/api/sharing/register").status_code == 403


def test_formats_over_http_and_a_malformed_request_is_refused_and_audited(hub):
    hour = NOW - timedelta(hours=2)
    rows = [alert_row(hour + timedelta(minutes=m), "plaza", "intrusion") for m in range(7)]
    insert(hub.storage.alerts.database, "alerts", rows)
    token, _ = issue(hub, rate_per_min=100, datasets=["alert_counts", "areas", "hot_spots"])
    span = {"start": (NOW - timedelta(days=1)).isoformat(), "end": NOW.isoformat()}

    csv_answer = get(hub, token, dataset="alert_counts", format="csv", **span)
    assert csv_answer.headers["content-type"].startswith("text/csv")
    assert csv_answer.text.splitlines() == [
        "hour_start_utc,area,kind,count",
        f"{hour.isoformat()},plaza,intrusion,7",
    ]
    sta = get(hub, token, dataset="alert_counts", format="sensorthings", **span).json()
    [stream] = sta["value"]
    assert stream["observationType"].endswith("OM_CountObservation")
    assert stream["Thing"]["@iot.id"] == "plaza"
    [obs] = stream["Observations"]
    assert obs["result"] == 7 and obs["phenomenonTime"].startswith(hour.isoformat() + "/")
    spots = get(hub, token, dataset="hot_spots", format="geojson", **span).json()
    assert spots["type"] == "FeatureCollection"  # incidents: none, so no hot spot
    assert spots["features"] == []

    half_hour = {"start": (NOW - timedelta(minutes=90)).isoformat(), "end": NOW.isoformat()}
    bad = get(hub, token, dataset="alert_counts", **half_hour)
    assert bad.status_code == 422 and "on the hour" in bad.json()["detail"]
    assert get(hub, token, dataset="faces").status_code == 422
    assert get(hub, token, dataset="alert_counts", format="xml").status_code == 422
    refused = [e.detail for e in hub.storage.audit.entries(action="share.refused")]
    assert sum(d.startswith("422") for d in refused) == 3


def test_a_token_must_name_whole_utc_hours_with_a_zone_inside_the_calendar(hub):
    admin = hub.client("admin")
    account = admin.post("/api/sharing/accounts", json={"name": "Traffic", "department": "traffic"})
    base = {
        "account_id": account.json()["id"],
        "agreement": "DSA-2026-020",
        "datasets": ["alert_counts"],
        "areas": ["plaza"],
        "data_from": "2026-11-01T00:00:00+00:00",
        "data_until": "2026-12-01T00:00:00+00:00",
        "expires_at": (NOW + timedelta(days=30)).isoformat(),
    }
    wrong = {
        "no zone": {"data_from": "2026-11-01T00:00:00"},
        "half past in UTC": {"data_from": "2026-11-01T00:00:00+05:30"},
        "before 2000": {"data_from": "1999-12-31T23:00:00+00:00"},
        "unknown area": {"areas": ["moon"]},
        "too long": {"expires_at": (NOW + timedelta(days=400)).isoformat()},
        "too fast": {"rate_per_min": 601},
    }
    for what, change in wrong.items():
        r = admin.post("/api/sharing/tokens", json=base | change)
        assert r.status_code == 422, (what, r.text)
    r = admin.post("/api/sharing/tokens", json=base | {"data_from": "2026-11-01T08:00:00+08:00"})
    assert r.status_code == 201, r.text
    assert r.json()["grant"]["data_from"] == "2026-11-01T00:00:00Z"
