"""The hub as a real process: ``villagewatch hub`` started the way a site starts it, from a
site file and a connection file, for tests that measure the process (its memory) or need
another process beside it (a backup while it runs)."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import yaml
from hub_helpers import REPO, offline_connection

from contract.connection import NodeConnection


def write_site_file(folder: Path, **hub: object) -> Path:
    """The example site's file with the hub's data in ``folder/hub`` on a free HTTP port;
    ``hub`` overrides more of the hub section."""
    data = yaml.safe_load((REPO / "config" / "site.example.yaml").read_text())
    # The copy lives elsewhere: its site plan stays where the example keeps it.
    data["map"]["image"] = str(REPO / "config" / data["map"]["image"])
    data["hub"] = {**data["hub"], "data_dir": str(folder / "hub"), "http_port": 0, **hub}
    data["broker"] = {**data.get("broker", {}), "data_dir": str(folder / "broker")}
    path = folder / "site.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def villagewatch(*args: str | Path, timeout: float = 60) -> subprocess.CompletedProcess:
    """Run one ``villagewatch`` command to its end."""
    return subprocess.run(
        [sys.executable, "-m", "villagewatch.cli", *map(str, args)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@dataclass
class HubProcess:
    proc: subprocess.Popen
    url: str
    admin_password: str | None
    site_file: Path

    def status_kib(self, field: str) -> int:
        """A memory figure of the process from /proc (``VmRSS`` now, ``VmHWM`` its peak)."""
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
        raise KeyError(field)

    def stop(self) -> int:
        """SIGTERM, as systemd stops it; returns the exit status."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        return self.proc.returncode


def start_hub_process(
    folder: Path,
    connection: NodeConnection | None = None,
    timeout: float = 30,
    args: tuple[str, ...] = (),
) -> HubProcess:
    """``villagewatch hub`` on the site file in ``folder`` (written if missing) with more
    ``args``; returns once it has printed its URL. Without ``connection`` its broker is never
    reachable (HTTP only)."""
    site = folder / "site.yaml"
    if not site.exists():
        write_site_file(folder)
    conn_path = folder / "hub-connection.json"
    (connection or offline_connection()).save(conn_path)
    first_start = not (folder / "hub" / "hub.sqlite3").exists()
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    command = ["hub", "--config", str(site), "--connection", str(conn_path), *args]
    log_file = (folder / "hub.log").open("w")  # its warnings, for a failure's message
    proc = subprocess.Popen(
        [sys.executable, "-m", "villagewatch.cli", "--log-level", "WARNING", *command],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=log_file,
        text=True,
        env=env,
    )
    log_file.close()  # the child has its own copy
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(x) for x in proc.stdout], daemon=True).start()
    url, password, deadline = None, None, time.monotonic() + timeout
    while url is None or (first_start and password is None):
        try:
            line = lines.get(timeout=max(deadline - time.monotonic(), 0.01))
        except queue.Empty:
            proc.kill()
            log = (folder / "hub.log").read_text()[-2000:]
            raise AssertionError(f"villagewatch hub did not start:\n{log}") from None
        if line.startswith("officer page: "):
            url = line.split(": ", 1)[1].strip()
        elif line.startswith("first admin login"):
            password = line.rsplit("/ ", 1)[1].strip()
    return HubProcess(proc, url, password, site)
