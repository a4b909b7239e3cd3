"""The hub API fuzzed from its own OpenAPI document with schemathesis (issue 7, test 6).

For every operation in ``GET /api/openapi.json`` (read with a session, as the document is
not public), schemathesis generates requests that fit the schema and requests that break it
(wrong types, missing fields, out-of-range values). Each goes to the real HTTP server twice:

* as the admin (every role's routes are open to it): never a 5xx;
* without a session: a 401 on every route but the public ones, whatever the input.

Path parameters are sometimes pinned to records that exist (an alert with its snapshot, its
incident, a photo), so the fuzzer also reaches the code behind the 404s. The number of
examples per operation is bounded so the whole run stays well under a minute.
"""

from __future__ import annotations

import os
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
import requests
import schemathesis
from hub_helpers import ApiHub, make_alert, serve_api, snapshot_jpeg
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from hub.api.app import PUBLIC_ROUTES

#: Per operation and generation mode (schema-valid, schema-breaking); VW_FUZZ_EXAMPLES=200
#: for a deeper run by hand.
EXAMPLES = int(os.environ.get("VW_FUZZ_EXAMPLES", "12"))
#: The live feed never ends by design; its one parameter is fuzzed by test_api_bad_requests.
NOT_FUZZED_SIGNED_IN = {("GET", "/api/events")}


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    api = serve_api(Path(tmp_path_factory.mktemp("hub")))
    yield api
    api.close()


@pytest.fixture(scope="module")
def records(hub: ApiHub) -> dict[str, str]:
    """Ids of things that exist, for pinned path parameters."""
    alert = make_alert()
    hub.ingest(alert)
    hub.storage.alerts.save_snapshot(
        alert.site, alert.node, alert.id, snapshot_jpeg(), datetime.now(UTC)
    )
    incident_id = hub.storage.alerts.get(alert.id).incident_id
    photo = hub.service.incidents.add_attachment(
        incident_id, "officer", "scene.jpg", snapshot_jpeg(), "image/jpeg"
    )
    return {
        "alert_id": alert.id,
        "incident_id": incident_id,
        "attachment_id": photo.id,
        "username": "viewer",
    }


class AdminSession:
    """An admin's bearer token, renewed when the fuzzer itself ends it (resetting the
    admin's password or revoking the admin's sessions are legitimate requests)."""

    def __init__(self, hub: ApiHub) -> None:
        self.hub = hub
        self.renew()

    def renew(self) -> None:
        token, _ = self.hub.accounts.open_session("admin")
        self.headers = {"Authorization": f"Bearer {token}"}


def operations(hub: ApiHub, admin: AdminSession):
    document = requests.get(hub.url + "api/openapi.json", headers=admin.headers, timeout=10)
    assert document.status_code == 200
    anonymous = requests.get(hub.url + "api/openapi.json", timeout=10)
    assert anonymous.status_code == 401, "the API document needs a session"
    schema = schemathesis.openapi.from_dict(document.json())
    found = [result.ok() for result in schema.get_all_operations()]
    assert len(found) > 25
    return found


def strategy_for(operation, records: dict[str, str]):
    names = re.findall(r"{(\w+)}", operation.path)
    pinned = {name: records[name] for name in names if name in records}
    modes = [schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE]
    choices = [operation.as_strategy(mode) for mode in modes]
    if pinned:
        choices.append(operation.as_strategy(path_parameters=pinned))
    return st.one_of(choices)


def fuzz_operation(operation, records, admin: AdminSession, base_url: str) -> list[str]:
    """Run the bounded examples of one operation; returns what went wrong."""
    route = (operation.method.upper(), operation.path)
    public = route in PUBLIC_ROUTES
    problems: list[str] = []

    @settings(
        max_examples=EXAMPLES * 2,
        deadline=None,
        database=None,
        # CI runs the same examples every time (a red build means a change broke something);
        # on a developer's machine each run explores new ones.
        derandomize=bool(os.environ.get("CI")),
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=strategy_for(operation, records))
    def fuzz(case) -> None:
        anonymous = case.call(base_url=base_url, timeout=10)
        if anonymous.status_code >= 500 or (not public and anonymous.status_code != 401):
            problems.append(f"anonymous {route}: {anonymous.status_code} for {case!r}")
        if route in NOT_FUZZED_SIGNED_IN:
            return
        signed_in = case.call(base_url=base_url, headers=admin.headers, timeout=10)
        if signed_in.status_code == 401:  # the case ended the admin's own session
            admin.renew()
        elif signed_in.status_code >= 500:
            problems.append(f"admin {route}: {signed_in.status_code} for {case!r}")

    fuzz()
    return problems


def test_fuzzing_every_operation_finds_no_5xx_and_no_route_open_without_a_session(hub, records):
    admin = AdminSession(hub)
    problems = []
    for operation in operations(hub, admin):
        problems += fuzz_operation(operation, records, admin, hub.url.rstrip("/"))
    assert problems == []
