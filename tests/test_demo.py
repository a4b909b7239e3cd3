"""``villagewatch demo`` — the README's first command — does what it promises: broker, hub,
edge on the recorded excerpt and door sensors come up; the printed login works; alerts reach
the officer API and the terminal; the plaza camera and the plaza door make one incident; the
scripted 110 call opens another; Ctrl-C shuts everything down cleanly."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time

import httpx


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
            kinds: set[str] = set()
            while time.monotonic() < deadline + 30 and not {"intrusion", "door"} <= kinds:
                kinds = {a["kind"] for a in officer.get("/api/alerts").json()["items"]}
                time.sleep(0.5)
            assert {"intrusion", "door"} <= kinds
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
        text = "".join(lines)
        assert re.search(r"ALERT MAJOR\s+intrusion\s+plaza/lawn", text)
        assert re.search(r"ALERT MAJOR\s+door\s+(north-gate|plaza)", text)
        assert re.search(r"INCIDENT INC-\d{8}-\d{4} opened", text)
        assert password.group(1) not in text.replace(password.group(0), "")  # shown once
    finally:
        proc.send_signal(signal.SIGINT)
        code = proc.wait(30)
        reader.join(5)
    assert code == 0, "".join(lines)[-3000:]
    assert "demo stopped" in "".join(lines)
    assert "Traceback" not in "".join(lines)
