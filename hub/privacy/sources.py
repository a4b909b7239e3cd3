"""The one list of the hub's stores of personal data that subject requests go through.

Each part of the hub that keeps something about a person (a plate, a face) adds its
:class:`~hub.privacy.subjects.SubjectSource` here — one line — so an access request sees it
and an erasure deletes from it. ``tests/test_privacy_subjects.py`` scans the database file
and the snapshot folder after an erasure, so a store missing from this list shows up there.
"""

from __future__ import annotations

from pathlib import Path

from contract.siteconfig import SiteConfig
from hub.privacy.alert_source import AlertSubjectSource
from hub.privacy.subjects import SubjectSource
from hub.privacy.text_source import TextSubjectSource
from hub.storage.repositories import Storage
from hub.watchlist.subjects import watchlist_subject_source


def subject_sources(
    storage: Storage, data_dir: Path, config: SiteConfig | None = None
) -> list[SubjectSource]:
    """Every source, in the order an erasure deletes from them."""
    min_score = config.watchlists.plates.fuzzy_min_score if config is not None else 0.75
    database = storage.alerts.database  # the SQLite file every repository shares
    return [
        AlertSubjectSource(database, data_dir, min_score),
        TextSubjectSource(database, min_score),  # incident and notification text: redacted
        watchlist_subject_source(storage, data_dir, config),  # entries, crops, plate log
    ]
