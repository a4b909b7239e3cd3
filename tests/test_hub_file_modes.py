"""Everything the hub keeps is private to the hub's user: files 0600, folders 0700, after
real use (sign-ins, alerts with snapshots, a snapshot still waiting for its alert, a photo
on an incident, the Web Push key) and whatever the umask — here 000, the worst case, which
would leave every file SQLite or Python makes readable and writable by everyone.

The database holds password and session hashes; its ``-wal`` holds the newest of them
before a checkpoint; snapshots and photos show people."""

from __future__ import annotations

import os
import stat
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hub_helpers import make_alert, serve_api, snapshot_jpeg

from contract.ids import new_alert_id
from hub.notify.webpush import VapidKeys
from hub.storage.sqlite import open_sqlite_storage


@pytest.fixture
def no_umask():
    previous = os.umask(0)
    yield
    os.umask(previous)


def modes(root: Path) -> dict[str, str]:
    """Relative path -> octal permission bits, for the folder itself and all inside it."""
    found = {".": oct(stat.S_IMODE(root.stat().st_mode))}
    for path in root.rglob("*"):
        found[str(path.relative_to(root))] = oct(stat.S_IMODE(path.lstat().st_mode))
    return found


def test_every_file_the_hub_writes_is_0600_and_every_folder_0700_whatever_the_umask(
    tmp_path: Path, no_umask
):
    data_dir = tmp_path / "var" / "hub"
    hub = serve_api(data_dir)
    try:
        officer = hub.client("officer")  # a session row: a hash in the WAL
        alert = make_alert()
        hub.ingest(alert)
        now = datetime.now(UTC)
        hub.storage.alerts.save_snapshot(alert.site, alert.node, alert.id, snapshot_jpeg(), now)
        waiting = hub.storage.alerts.save_snapshot(
            alert.site, alert.node, new_alert_id(), snapshot_jpeg(), now
        )
        assert waiting == "pending"
        incident = hub.storage.alerts.get(alert.id).incident_id
        photo = officer.post(
            f"/api/incidents/{incident}/attachments?filename=door.jpg",
            content=snapshot_jpeg(),
            headers={"content-type": "image/jpeg"},
        )
        assert photo.status_code == 201, photo.text
        VapidKeys.load_or_create(data_dir)
        found = modes(data_dir)
        # While the hub runs, SQLite's side files exist too.
        assert {"hub.sqlite3", "hub.sqlite3-wal", "hub.sqlite3-shm", "vapid.pem"} <= set(found)
        assert any(p.startswith("snapshots/") and p.endswith(".jpg") for p in found)
        assert any(p.startswith("attachments/") for p in found)
        wrong = {
            path: mode
            for path, mode in found.items()
            if mode != ("0o700" if (data_dir / path).is_dir() else "0o600")
        }
        assert wrong == {}
    finally:
        hub.close()


def test_an_older_hubs_world_readable_files_are_made_private_when_it_next_opens(
    tmp_path: Path,
):
    data_dir = tmp_path / "hub"
    open_sqlite_storage(data_dir).close()
    for name in ("hub.sqlite3",):
        os.chmod(data_dir / name, 0o644)
    os.chmod(data_dir, 0o755)
    storage = open_sqlite_storage(data_dir)
    try:
        assert modes(data_dir)["."] == "0o700"
        assert modes(data_dir)["hub.sqlite3"] == "0o600"
        assert modes(data_dir)["hub.sqlite3-wal"] == "0o600"
    finally:
        storage.close()
