"""What the privacy page and the sign say follows the site file and the authorisations in
force: face recognition is "authorised" only where it is switched on, the camera's sign is
confirmed and an authorisation covers the camera *now*; plates are said to be read exactly on
the cameras that read them; lifetimes are the configured ones."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hub_helpers import example_config

from contract.watchlist import Authorisation
from contract.watchlist_settings import FaceSettings, PlateLogging, PlateSettings, WatchlistSettings
from hub.privacy.summary import privacy_summary, sign_notice
from hub.retention import Lifetimes

NOW = datetime(2026, 12, 2, 12, tzinfo=UTC)


def site(faces: bool, signage: bool, plates: bool = True, logging: PlateLogging | None = None):
    """The example site with its first camera's sign, plate reading, face recognition and
    plate logging as given (copies: the site file's own checks ran on the original)."""
    config = example_config()
    gateway = config.gateways[0]
    camera = gateway.cameras[0].model_copy(update={"signage_confirmed": signage, "plates": plates})
    gateway = gateway.model_copy(update={"cameras": [camera, *gateway.cameras[1:]]})
    watch = WatchlistSettings(
        plates=PlateSettings(logging=logging), faces=FaceSettings(enabled=faces)
    )
    gateways = [gateway, *config.gateways[1:]]
    return config.model_copy(update={"gateways": gateways, "watchlists": watch})


def authorisation(node: str, camera: str, ends: datetime) -> Authorisation:
    return Authorisation(id="a" * 32, legal_basis="court order 12/2026", case_number="C-7",
                         approved_by="chief", cameras=[f"{node}/{camera}"],
                         starts_at=NOW - timedelta(days=1), ends_at=ends, expires_at=ends,
                         retention_days=14)  # fmt: skip


def faces_on(config, auths) -> dict[str, str]:
    summary = privacy_summary(config, Lifetimes.from_settings(config.hub), auths, NOW)
    return {c.camera: c.faces for c in summary.cameras}


def test_face_recognition_is_authorised_only_when_all_three_hold():
    config = site(faces=True, signage=True)
    g, cam = config.gateways[0].node, config.gateways[0].cameras[0].name
    live = [authorisation(g, cam, NOW + timedelta(days=5))]
    assert faces_on(config, live)[cam] == f"authorised: {'a' * 32}"
    assert faces_on(config, [])[cam] == "no authorisation in force"
    assert faces_on(config, [authorisation(g, cam, NOW - timedelta(hours=1))])[cam] == (
        "no authorisation in force"
    )  # expired
    assert faces_on(site(faces=True, signage=False), live)[cam] == "no sign confirmed"
    assert faces_on(site(faces=False, signage=True), live)[cam] == "off"


def test_the_sign_says_what_is_read_where_and_for_how_long():
    kept = PlateLogging(purpose="traffic counts for the village plan", retention_days=7)
    config = site(faces=True, signage=True, logging=kept)
    g, cam = config.gateways[0].node, config.gateways[0].cameras[0].name
    live = [authorisation(g, cam, NOW + timedelta(days=5))]
    summary = privacy_summary(config, Lifetimes.from_settings(config.hub), live, NOW)
    text = sign_notice(summary)
    assert f"Vehicle number plates are read by these cameras: {cam}." in text
    assert f"Face recognition is authorised for a specific case on: {cam}." in text
    assert f"deleted after {config.hub.retention_days} days at most" in text
    assert "operator not set: hub.privacy.operator" in text  # says what to set
    kinds = {r.kind: r for r in summary.retention}
    assert kinds["plate_log"].days == 7 and "traffic counts" in kinds["plate_log"].note
    assert kinds["match_crops"].days == 14
    assert summary.authorisations == live

    quiet = privacy_summary(site(faces=False, signage=False, plates=False),
                            Lifetimes.uniform(30), [], NOW)  # fmt: skip
    text = sign_notice(quiet)
    assert "Vehicle number plates are not read." in text
    assert "Face recognition is not in use." in text
