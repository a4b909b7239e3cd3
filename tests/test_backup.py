"""Backups (issue 7, test 10): ``villagewatch backup`` run as its own process while a node
streams alerts into the hub over real mosquitto, then ``villagewatch restore``: every alert
the hub had stored before the backup began is back, with its snapshot, and nothing that was
never sent. A restore refuses while the hub has the data open."""

from __future__ import annotations

import stat
import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hub_helpers import NodeClient, make_alert, snapshot_jpeg, start_hub, wait_for
from hub_process import villagewatch, write_site_file

from contract.protocol import alert_topic, encode
from hub.storage.sqlite import open_sqlite_storage

pytestmark = pytest.mark.mosquitto


class Streamer:
    """One node publishing alerts back to back (each acknowledged by the broker) until
    stopped; remembers every id it sent."""

    def __init__(self, node: NodeClient, root: str) -> None:
        self.node, self.root = node, root
        self.sent: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            alert = make_alert(node=self.node.conn.node, seq=len(self.sent), has_snapshot=False)
            self.node.publish(alert_topic(self.root, alert.site, alert.node), encode(alert))
            self.sent.append(alert.id)

    def __enter__(self) -> Streamer:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(10)


def private(folder: Path) -> bool:
    """Files 0600 and folders 0700 throughout: a backup holds what the hub holds."""
    paths = [folder, *folder.rglob("*")]
    return all(stat.S_IMODE(p.stat().st_mode) == (0o700 if p.is_dir() else 0o600) for p in paths)


def test_a_backup_taken_while_alerts_stream_in_restores_every_alert_stored_before_it(
    tmp_path: Path, mosquitto
):
    site = write_site_file(tmp_path)
    hub = start_hub(mosquitto, tmp_path / "hub")
    node = NodeClient(mosquitto.provision("gw-plaza"))
    root = hub.connection.topic_root
    try:
        with Streamer(node, root) as streamer:
            wait_for(lambda: hub.storage.alerts.count() >= 300, 30, "300 alerts stored")
            with_photo = hub.storage.alerts.ids()[:3]
            for alert_id in with_photo:
                record = hub.storage.alerts.get(alert_id)
                hub.storage.alerts.save_snapshot(
                    record.site, record.node, alert_id, snapshot_jpeg(), datetime.now(UTC)
                )
            stored_before = set(hub.storage.alerts.ids())
            sent_before = len(streamer.sent)
            made = villagewatch("backup", "--config", site, tmp_path / "backup")
            sent_during = len(streamer.sent) - sent_before
        assert made.returncode == 0, made.stderr
        assert "backup:" in made.stdout
        assert private(tmp_path / "backup")
        assert sent_during > 0, "the node kept sending while the backup ran"
        wait_for(lambda: hub.storage.alerts.count() == len(streamer.sent), 30, "all stored")

        refused = villagewatch("restore", "--config", site, tmp_path / "backup")
        assert refused.returncode == 2
        assert "stop the hub first" in refused.stderr
    finally:
        node.stop()
        hub.stop()

    restored = villagewatch("restore", "--config", site, tmp_path / "backup")
    assert restored.returncode == 0, restored.stderr
    storage = open_sqlite_storage(tmp_path / "hub")
    try:
        ids = set(storage.alerts.ids())
        assert stored_before <= ids, f"{len(stored_before - ids)} alerts lost"
        assert ids <= set(streamer.sent)
        for alert_id in with_photo:
            assert storage.alerts.snapshot_file(alert_id).read_bytes() == snapshot_jpeg()
        # Both are in the audit log: the backup's own row came along in the copy.
        actions = [e.action for e in storage.audit.entries(action=None)]
        assert actions[:2] == ["hub.restore", "hub.backup"]
    finally:
        storage.close()


def test_a_backup_goes_to_a_new_folder_and_restore_takes_only_a_backup(tmp_path: Path):
    site = write_site_file(tmp_path)
    open_sqlite_storage(tmp_path / "hub").close()
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "something").write_text("keep me")
    taken = villagewatch("backup", "--config", site, tmp_path / "full")
    assert taken.returncode == 2 and "not empty" in taken.stderr
    (tmp_path / "not-a-backup").mkdir()
    restored = villagewatch("restore", "--config", site, tmp_path / "not-a-backup")
    assert restored.returncode == 2 and "not a hub backup" in restored.stderr


def test_force_restores_over_data_a_hung_hub_still_holds(tmp_path: Path):
    site = write_site_file(tmp_path)
    hung = open_sqlite_storage(tmp_path / "hub")  # holds the data folder's lock, as a hub does
    kept = make_alert()
    hung.alerts.insert(kept, datetime.now(UTC))
    assert villagewatch("backup", "--config", site, tmp_path / "backup").returncode == 0
    hung.alerts.insert(make_alert(seq=1), datetime.now(UTC))

    assert villagewatch("restore", "--config", site, tmp_path / "backup").returncode == 2
    forced = villagewatch("restore", "--config", site, tmp_path / "backup", "--force")
    assert forced.returncode == 0, forced.stderr
    hung.close()  # it wrote to the file the restore replaced: restart it at once

    storage = open_sqlite_storage(tmp_path / "hub")
    try:
        assert storage.alerts.ids() == [kept.id]
    finally:
        storage.close()
