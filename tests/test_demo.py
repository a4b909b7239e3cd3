"""``villagewatch demo`` — the README's first command — does what it promises: broker, hub,
edge on the recorded excerpt and a sensor node of each kind come up; the printed login
works; alerts reach the officer API (one of each sensor kind, and a tamper) and the
terminal; the plaza camera and the plaza door make one incident; the scripted 110 call
opens another; two patrol units report through the OsmAnd endpoint and the scripted
dispatch loop takes the first camera incident from acknowledged to resolved, each step by
its own account and timed; Ctrl-C shuts everything down cleanly.

One demo run serves every check (it is the most expensive thing to start); checks wait on
conditions through the hub's API, never on elapsed time."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from datetime import datetime
from pathlib import Path

import httpx
from hub_helpers import wait_for

from contract.siteconfig import load_site_config

SITE = Path(__file__).resolve().parents[1] / "config" / "site.example.yaml"


def test_demo_prints_a_working_login_shows_alerts_and_stops_cleanly_on_ctrl_c(tmp_path):
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "villagewatch.cli",
            "demo",
            "--port",
            "0",
            "--data-dir",
            str(tmp_path / "demo"),
            "--duration",
            "120",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(proc.stdout), daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + 60
        url = password = None
        while time.monotonic() < deadline and not (url and password):
            text = "".join(lines)
            url = re.search(r"officer page: (http://\S+)", text)
            password = re.search(r"login:\s+admin / (\S+)", text)
            time.sleep(0.2)
        assert url and password, "".join(lines)[-3000:]
        with httpx.Client(base_url=url.group(1), timeout=10) as officer:
            r = officer.post(
                "/api/login", json={"username": "admin", "password": password.group(1)}
            )
            assert r.status_code == 200
            # the camera, one sensor node of each configured kind, and the tamper switch
            expected = {"intrusion", "tamper"} | {s.kind for s in load_site_config(SITE).sensors}
            kinds: set[str] = set()
            while time.monotonic() < deadline + 30 and not expected <= kinds:
                listed = officer.get("/api/alerts", params={"limit": 500}).json()["items"]
                kinds = {a["kind"] for a in listed}
                time.sleep(0.5)
            assert expected <= kinds, expected - kinds
            joined = call = None
            while time.monotonic() < deadline + 90 and not (joined and call):
                incidents = officer.get("/api/incidents").json()["items"]
                call = next((i for i in incidents if i["source"] == "call"), None)
                for i in incidents:
                    if i["location"]["area"] == "plaza" and i["alert_count"] >= 2:
                        alerts = officer.get(f"/api/incidents/{i['id']}").json()["alerts"]
                        if {"door", "intrusion"} <= {a["kind"] for a in alerts}:
                            joined = i
                time.sleep(1)
            assert joined, "the plaza door and camera alerts never shared an incident"
            assert call and call["location"]["area"] == "north-gate"
            nodes = {n["node"]: n["state"] for n in officer.get("/api/nodes").json()}
            assert nodes.get("gw-plaza") == "online" and nodes.get("gate-door") == "online"
            check_dispatch_loop(officer, deadline + 90)
        text = "".join(lines)
        assert re.search(r"ALERT MAJOR\s+intrusion\s+plaza/lawn", text)
        assert re.search(r"ALERT MAJOR\s+door\s+(north-gate|plaza)", text)
        assert re.search(r"INCIDENT INC-\d{8}-\d{4} opened", text)
        assert password.group(1) not in text.replace(password.group(0), "")  # shown once
        for step in range(1, 6):
            assert re.search(rf"\d\d:\d\d:\d\d  LOOP {step} ", text), f"step {step} not printed"
        assert re.search(r"LOOP report: .*p50 [\d.]+ s", text)
    finally:
        proc.send_signal(signal.SIGINT)
        code = proc.wait(30)
        reader.join(5)
    assert code == 0, "".join(lines)[-3000:]
    assert "demo stopped" in "".join(lines)
    assert "Traceback" not in "".join(lines)


def until(condition, deadline: float, what: str):
    """``condition()``'s first truthy answer, polled (twice a second: the demo is busy
    enough) until ``deadline`` (monotonic)."""
    return wait_for(condition, deadline - time.monotonic(), what, poll_s=0.5)


def in_order(record: dict, fields: tuple[str, ...]) -> list[datetime]:
    times = [record[f] for f in fields]
    assert None not in times, {f: record[f] for f in fields}
    parsed = [datetime.fromisoformat(t) for t in times]
    assert parsed == sorted(parsed), dict(zip(fields, times, strict=True))
    return parsed


def loop_incident(officer: httpx.Client) -> tuple[dict, list[dict]] | None:
    """The resolved incident a unit was sent to, and its assignments."""
    for incident in officer.get("/api/incidents", params={"state": "resolved"}).json()["items"]:
        sent = officer.get(f"/api/incidents/{incident['id']}/assignments").json()
        if sent:
            return incident, sent
    return None


def check_dispatch_loop(officer: httpx.Client, deadline: float) -> None:
    """Two units placed by their OsmAnd trackers; one incident through the whole loop with
    its timings in order, each step by the account that made it, and in the report."""

    def positioned() -> list[dict] | None:  # every unit placed, not just the first one
        units = officer.get("/api/units").json()
        return units if units and all(u["position"] for u in units) else None

    units = until(positioned, deadline, "units with positions")
    assert sorted(u["callsign"] for u in officer.get("/api/units").json()) == ["P-01", "P-02"]
    assert len(units) == 2 and {u["position"]["source"] for u in units} == {"osmand"}
    incident, sent = until(lambda: loop_incident(officer), deadline, "the dispatch loop")
    detail = officer.get(f"/api/incidents/{incident['id']}").json()
    states = [t["to_state"] for t in detail["transitions"]]
    expected = ["acknowledged", "dispatched", "en_route", "on_scene", "resolved"]
    assert [s for s in states if s in expected] == expected, states
    assert incident["outcome"] == "handled"
    milestones = ("acknowledged_at", "dispatched_at", "en_route_at", "on_scene_at")
    in_order(incident, ("opened_at", *milestones, "resolved_at"))
    (assignment,) = sent
    segments = ("dispatched_at", "accepted_at", "en_route_at", "on_scene_at", "ended_at")
    times = in_order(assignment, segments)
    assert assignment["state"] == "resolved" and assignment["dispatched_by"] == "duty-desk"
    unit = next(u for u in units if u["id"] == assignment["unit_id"])
    crew = unit["members"][0]
    audit = officer.get("/api/audit", params={"target": incident["id"], "limit": 500}).json()
    who = {e["action"]: e["username"] for e in audit}
    assert who["incident.acknowledge"] == who["dispatch.send"] == "duty-desk", who
    for step in ("accept", "en_route", "on_scene", "resolve"):
        assert who[f"assignment.{step}"] == crew, who
    report = officer.get("/api/reports/response-times").json()
    travel = next(s for s in report["current"]["segments"] if s["segment"] == "travel")
    en_route, on_scene = (datetime.fromisoformat(incident[f]) for f in milestones[2:])
    assert travel["count"] == 1
    assert abs(travel["p50_s"] - (on_scene - en_route).total_seconds()) < 0.01
    # per unit kind: dispatched -> on scene of each unit (always in the report: no "if")
    kinds = {g["group"]: g for g in report["travel"]["by_unit_kind"]}
    assert abs(kinds[unit["kind"]]["p50_s"] - (times[3] - times[0]).total_seconds()) < 0.01
