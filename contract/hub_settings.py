"""The hub's sections of the site file: ``hub:`` with its incidents, escalation, Web Push and
retention settings (dispatch, live view and verification have their own modules)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from contract.live import LiveSettings
from contract.place_settings import DispatchSettings
from contract.protocol import Severity
from contract.statistics_settings import StatisticsSettings
from contract.verification import VerificationSettings

#: Camera and sensor health alert kinds: they open maintenance incidents.
MAINTENANCE_KINDS = (
    "stream_lost",
    "stream_frozen",
    "lens_covered",
    "blinded",
    "defocused",
    "camera_moved",
    "battery_low",
    "node_offline",
    "sensor_stuck",
)


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class IncidentSettings(_Section):
    correlation_window_s: float = Field(
        120, ge=0, le=86400, description="alerts of one area this close join one incident"
    )
    maintenance_kinds: list[str] = Field(
        default_factory=lambda: list(MAINTENANCE_KINDS),
        description="alert kinds that open maintenance incidents, not security ones",
    )


class EscalationTier(_Section):
    """Who is told when an incident waits too long for an acknowledgement."""

    name: str = Field(description="e.g. station supervisors")
    roles: list[Literal["officer", "supervisor", "admin"]] = Field(
        default_factory=lambda: ["supervisor"], description="hub users paged in the browser"
    )
    notify: list[str] = Field(
        default_factory=list,
        description="apprise URLs (ntfy://, mailto://, tgram://, json://...): see apprise docs",
    )


class EscalationSettings(_Section):
    """An unacknowledged incident moves up one tier each time its wait runs out."""

    after_s: dict[Severity, float] = Field(
        default_factory=lambda: {
            Severity.CRITICAL: 30,
            Severity.MAJOR: 60,
            Severity.MINOR: 300,
            Severity.WARNING: 600,
        },
        description="seconds without acknowledgement before each escalation, by severity;"
        " a severity left out never escalates",
    )
    tiers: list[EscalationTier] = Field(
        default_factory=lambda: [EscalationTier(name="station supervisors")],
        description="tier 1, 2, ...; the last tier is repeated",
    )

    @field_validator("after_s")
    @classmethod
    def _positive(cls, value: dict[Severity, float]) -> dict[Severity, float]:
        for severity, seconds in value.items():
            if not 1 <= seconds <= 86400:
                raise ValueError(f"after_s.{severity}: {seconds} must be 1..86400 seconds")
        return value


class WebPushSettings(_Section):
    enabled: bool = Field(False, description="needs internet: the browser vendor's push service")
    subject: str = Field(
        "mailto:duty-desk@example.invalid", description="VAPID contact (mailto: or https:)"
    )


class RetentionSettings(_Section):
    """Days each kind of record is kept; a kind left out keeps ``hub.retention_days``."""

    alerts_days: int | None = Field(None, ge=1, le=3650, description="alerts and snapshots")
    audit_days: int | None = Field(None, ge=1, le=3650, description="who saw or did what")
    quarantine_days: int | None = Field(None, ge=1, le=3650, description="refused messages")
    notifications_days: int | None = Field(None, ge=1, le=3650, description="deliveries")
    node_history_days: int | None = Field(None, ge=1, le=3650, description="node status changes")
    snapshots_days: int | None = Field(
        None, ge=1, le=3650, description="alert photos, if shorter than alerts (rows stay)"
    )


class PrivacyNoticeSettings(_Section):
    """Who runs the cameras and whom to ask: the privacy page and the printable sign say it
    (PIPL Art. 26: cameras in public places for public security only, with signs)."""

    operator: str | None = Field(None, max_length=200, description="who runs the system")
    contact: str | None = Field(
        None, max_length=200, description="where people ask to see or delete their data"
    )
    purpose: str = Field("public security", min_length=3, max_length=200)


class HubSettings(_Section):
    http_host: str = "127.0.0.1"
    http_port: int = Field(8080, ge=0, le=65535, description="0 picks a free port")
    data_dir: str = Field("var/hub", description="SQLite database and snapshots")
    retention_days: int = Field(30, ge=1, le=3650, description="alerts older are purged")
    retention: RetentionSettings = RetentionSettings()
    privacy: PrivacyNoticeSettings = PrivacyNoticeSettings()  # the sign notice (hub/privacy)
    tls_cert: str | None = Field(None, description="HTTPS: certificate chain (PEM), with tls_key")
    tls_key: str | None = Field(None, description="HTTPS: the certificate's private key (PEM)")
    session_idle_minutes: int = Field(
        720, ge=5, le=10080, description="a session ends after this long without activity"
    )
    incidents: IncidentSettings = IncidentSettings()
    escalation: EscalationSettings = EscalationSettings()
    web_push: WebPushSettings = WebPushSettings()
    dispatch: DispatchSettings = DispatchSettings()
    live: LiveSettings = LiveSettings()  # live view of cameras (contract/live.py)
    #: camera-verified sensor alarms (contract/verification.py)
    verification: VerificationSettings = VerificationSettings()
    statistics: StatisticsSettings = StatisticsSettings()  # contract/statistics_settings.py

    @model_validator(mode="after")
    def _tls_pair(self) -> HubSettings:
        if bool(self.tls_cert) != bool(self.tls_key):
            raise ValueError("tls_cert and tls_key go together: give both or neither")
        return self
