"""The incident service: opening incidents, moving them, and what is kept about them.

Three ways an incident begins:

* **alerts** — ingest stores an alert and calls :meth:`IncidentService.correlate` in the same
  transaction. Security alerts of one area that come within ``correlation_window_s`` of the
  incident's last alert (on the hub's clock: a node's wrong clock must not split or merge
  events) join the newest open incident of that area, so a camera intrusion and the door
  alert that follows are one incident. Maintenance alerts (a camera offline, its lens
  covered) are matched on node, camera and kind instead, never mixed with security ones, and
  the edge's "cleared" alert (same kind at ``info``) resolves their incident by itself.
* **calls** — the duty desk types in a phone call (:meth:`IncidentService.open_call`).
* **other systems** — through the API, with an idempotency key so a retried request opens
  one incident (:meth:`IncidentService.open_external`).

Every change by a person goes through :func:`hub.domain.incidents.apply` (the state
machine) and is kept as a transition; the service publishes :class:`IncidentChanged`,
except from :meth:`~IncidentService.correlate`, whose caller publishes after its commit.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo

from contract.hub_settings import IncidentSettings
from contract.protocol import Severity
from contract.siteconfig import SiteConfig
from hub.clock import Clock, system_clock
from hub.domain.alerts import AlertRecord
from hub.domain.incidents import (
    SYSTEM_ACTOR,
    Action,
    Attachment,
    Category,
    Incident,
    IncidentState,
    Location,
    Note,
    Outcome,
    Source,
    Transition,
    apply,
    most_severe,
)
from hub.events import EventBus, IncidentChanged
from hub.incidents.attachments import checked_image, safe_filename
from hub.incidents.errors import (
    AttachmentNotFound,
    IncidentNotFound,
    InvalidIncidentRequest,
)
from hub.incidents.requests import NewIncident
from hub.storage.repositories import Storage


@dataclass(frozen=True)
class IncidentDetail:
    """Everything an officer sees on one incident."""

    incident: Incident
    alerts: list[AlertRecord]
    transitions: list[Transition]
    notes: list[Note]
    attachments: list[Attachment]


class IncidentService:
    """Opens, correlates and moves incidents. ``config`` (optional) gives the correlation
    settings (``hub.incidents``), the site's areas, which call locations are checked
    against, and its time zone, whose day numbers refs."""

    def __init__(
        self,
        storage: Storage,
        bus: EventBus,
        clock: Clock = system_clock,
        config: SiteConfig | None = None,
    ) -> None:
        self.storage = storage
        self.repo = storage.incidents
        self.bus = bus
        self.settings = config.hub.incidents if config else IncidentSettings()
        self.clock = clock
        self.maintenance_kinds = frozenset(self.settings.maintenance_kinds)
        self.areas: Collection[str] | None = {a.id for a in config.areas} if config else None
        self.timezone: tzinfo = ZoneInfo(config.site.timezone) if config else UTC

    # --- from alerts -----------------------------------------------------------------------

    def correlate(self, alert: AlertRecord) -> tuple[Incident, str] | None:
        """File a just-stored alert under an incident; returns the incident and what changed
        (``"opened"``, ``"alert_added"`` or ``"resolved"``), or None when a "cleared" alert
        found nothing open to resolve. Call inside ``storage.transaction()``; publishes
        nothing (the caller does, after its commit)."""
        with self.storage.transaction():
            if alert.kind in self.maintenance_kinds:
                result = self._correlate_maintenance(alert)
            else:
                result = self._correlate_security(alert)
            if result is not None:
                self.storage.alerts.set_incident(alert.id, result[0].id)
        return result

    def correlate_many(self, alerts: Sequence[AlertRecord]) -> list[tuple[Incident, str] | None]:
        """:meth:`correlate` for a batch of alerts *about to be stored*, in order, filing each
        alert where one call each would, but each security incident the batch touches is
        read once and written once: ingest's group commit stores 500 alerts of one area as
        one incident update, not 500. Each alert's entry holds its incident *as it stands
        after the whole batch* and ``"opened"`` if the batch opened it, else
        ``"alert_added"``. The caller stores each alert with its incident's id (one INSERT,
        no UPDATE after it), in the same ``storage.transaction()`` as this call (nobody else
        can change an incident meanwhile)."""
        results: list[tuple[str, str] | tuple[Incident, str] | None] = []
        window = timedelta(seconds=self.settings.correlation_window_s)
        current: dict[str, Incident] = {}  # area -> its incident (as read or opened)
        joined: dict[str, list[AlertRecord]] = {}  # incident id -> alerts added in memory
        base: dict[str, Incident] = {}  # incident id -> as read or opened
        final: dict[str, Incident] = {}
        with self.storage.transaction():
            for alert in alerts:
                if alert.kind in self.maintenance_kinds:  # rare: one at a time
                    result = self._correlate_maintenance(alert)
                    if result is not None:
                        final[result[0].id] = result[0]
                        results.append((result[0].id, result[1]))
                    else:
                        results.append(None)
                    continue
                since = alert.received_at - window
                incident = current.get(alert.area)
                if incident is None:
                    incident = self.repo.open_for_correlation(alert.area, Category.SECURITY, since)
                last = _last_alert_at(incident, joined) if incident else None
                if incident is None or last is None or last < since:
                    incident = self._open_from_alert(alert, Category.SECURITY, None)
                    current[alert.area] = final[incident.id] = incident
                    results.append((incident.id, "opened"))
                else:
                    joined.setdefault(incident.id, []).append(alert)
                    current[alert.area] = base[incident.id] = incident
                    results.append((incident.id, "alert_added"))
            for incident_id, added in joined.items():
                final[incident_id] = self.repo.save(_with_alerts(base[incident_id], added))
        return [(final[r[0]], r[1]) if r else None for r in results]  # type: ignore[index]

    def _correlate_security(self, alert: AlertRecord) -> tuple[Incident, str]:
        window = timedelta(seconds=self.settings.correlation_window_s)
        current = self.repo.open_for_correlation(
            alert.area, Category.SECURITY, alert.received_at - window
        )
        if current is None:
            return self._open_from_alert(alert, Category.SECURITY, None), "opened"
        return self.repo.save(_with_alerts(current, [alert])), "alert_added"

    def _correlate_maintenance(self, alert: AlertRecord) -> tuple[Incident, str] | None:
        # No time window: a camera stays broken until it says it is not, however long.
        key = maintenance_key(alert)
        current = self.repo.open_maintenance(key)
        if alert.severity is not Severity.INFO:
            if current is None:
                return self._open_from_alert(alert, Category.MAINTENANCE, key), "opened"
            return self.repo.save(_with_alerts(current, [alert])), "alert_added"
        if current is None:
            return None  # cleared, and nobody had been told: nothing to do
        joined = _with_alerts(current, [alert])
        resolved = apply(joined, Action.RESOLVE, alert.received_at, Outcome.HANDLED)
        note = f"cleared: {alert.message or alert.kind}"
        transition = _transition(joined, resolved, Action.RESOLVE, SYSTEM_ACTOR, note)
        return self.repo.save(resolved, transition), "resolved"

    def _open_from_alert(
        self, alert: AlertRecord, category: Category, correlation_key: str | None
    ) -> Incident:
        at = alert.received_at
        incident = self._new(
            at,
            category=category,
            source=Source.ALERTS,
            severity=alert.severity,
            kind=alert.kind,
            title=(alert.message or f"{alert.kind.replace('_', ' ')} in {alert.area}")[:120],
            location=Location(area=alert.area),
            last_alert_at=at,
            alert_count=1,
        )
        return self.repo.create(incident, correlation_key=correlation_key)

    def _new(self, at: datetime, **fields) -> Incident:
        """A new incident opened at ``at``, numbered on the site's own day."""
        return Incident(
            id=uuid.uuid4().hex,
            ref=self.repo.next_ref(at.astimezone(self.timezone).date()),
            state=IncidentState.NEW,
            opened_at=at,
            updated_at=at,
            **fields,
        )

    # --- from people and other systems -----------------------------------------------------

    def open_call(
        self, report: NewIncident, actor: str, idempotency_key: str | None = None
    ) -> tuple[Incident, bool]:
        """The duty desk took a phone call. Returns the incident and whether it is new."""
        return self._open(report, Source.CALL, actor, idempotency_key)

    def open_external(
        self, report: NewIncident, actor: str, idempotency_key: str | None = None
    ) -> tuple[Incident, bool]:
        """Another system reports an incident. The same ``idempotency_key`` from the same
        user gives the same incident (False: it existed), also when requests race."""
        return self._open(report, Source.EXTERNAL, actor, idempotency_key)

    def _open(
        self, report: NewIncident, source: Source, actor: str, key: str | None
    ) -> tuple[Incident, bool]:
        if report.source is not source:
            raise InvalidIncidentRequest(f"this opens {source.value} incidents")
        area = report.location.area
        if area is not None and self.areas is not None and area not in self.areas:
            raise InvalidIncidentRequest(f"unknown area {area!r}; known: {sorted(self.areas)}")
        fingerprint = hashlib.sha256(report.model_dump_json().encode()).hexdigest()
        with self.storage.transaction():
            if key is not None:  # a retry: no ref number spent, nothing written
                earlier = self.repo.replay(actor, key, fingerprint)
                if earlier is not None:
                    return earlier, False
            at = self.clock()
            category = (
                Category.MAINTENANCE if report.kind in self.maintenance_kinds else Category.SECURITY
            )
            incident = self._new(
                at,
                category=category,
                source=source,
                severity=report.severity,
                kind=report.kind,
                title=report.title,
                location=report.location,
                caller=report.caller,
                external_ref=report.external_ref,
                opened_by=actor,
            )
            stored = self.repo.create(incident, key, fingerprint=fingerprint)
            created = stored.id == incident.id
            if created and report.description:
                self.repo.add_note(stored.id, at, actor, report.description)
        if created:
            self.bus.publish(IncidentChanged(incident=stored, change="opened"))
        return stored, created

    # --- working on an incident ------------------------------------------------------------

    def get(self, incident_id: str) -> Incident:
        incident = self.repo.get(incident_id)
        if incident is None:
            raise IncidentNotFound(f"no incident {incident_id}")
        return incident

    def detail(self, incident_id: str) -> IncidentDetail:
        return IncidentDetail(
            incident=self.get(incident_id),
            alerts=self.storage.alerts.for_incident(incident_id),
            transitions=self.repo.transitions(incident_id),
            notes=self.repo.notes(incident_id),
            attachments=self.repo.attachments(incident_id),
        )

    def act(
        self,
        incident_id: str,
        action: Action,
        actor: str,
        note: str | None = None,
        outcome: Outcome | None = None,
        at: datetime | None = None,
    ) -> Incident:
        """Do ``action`` now (or at ``at``: a patrol's tap queued offline, already checked by
        the dispatch service): raises IncidentNotFound, IllegalTransition (with a message for
        the officer) or StaleIncident (someone else acted in between)."""
        if outcome is not None and action is not Action.RESOLVE:
            raise InvalidIncidentRequest("an outcome is given only when resolving")
        with self.storage.transaction():
            current = self.get(incident_id)
            changed = apply(current, action, at or self.clock(), outcome)
            saved = self.repo.save(changed, _transition(current, changed, action, actor, note))
        self.bus.publish(IncidentChanged(incident=saved, change=action.value))
        return saved

    def add_note(self, incident_id: str, author: str, text: str) -> Note:
        at = self.clock()
        with self.storage.transaction():
            incident = self.repo.save(self.get(incident_id).model_copy(update={"updated_at": at}))
            note = self.repo.add_note(incident_id, at, author, text)
        self.bus.publish(IncidentChanged(incident=incident, change="note"))
        return note

    def add_attachment(
        self,
        incident_id: str,
        author: str,
        filename: str | None,
        data: bytes,
        declared_type: str | None = None,
    ) -> Attachment:
        """Attach a JPEG or PNG (at most 5 MiB; its bytes must say so). Raises
        AttachmentTooLarge or UnsupportedAttachment."""
        content_type = checked_image(data, declared_type)
        at = self.clock()
        with self.storage.transaction():
            incident = self.repo.save(self.get(incident_id).model_copy(update={"updated_at": at}))
            attachment = self.repo.add_attachment(
                incident_id, at, author, safe_filename(filename, content_type), content_type, data
            )
        self.bus.publish(IncidentChanged(incident=incident, change="attachment"))
        return attachment

    def attachment(self, incident_id: str, attachment_id: int) -> tuple[Attachment, bytes]:
        try:
            return self.repo.attachment_file(incident_id, attachment_id)
        except KeyError:
            raise AttachmentNotFound(f"no attachment {attachment_id} on this incident") from None


def maintenance_key(alert: AlertRecord) -> str:
    """What a maintenance alert is matched on: the same trouble of the same camera."""
    return f"{alert.site}/{alert.node}/{alert.camera or '-'}/{alert.kind}"


def _last_alert_at(incident: Incident, joined: dict[str, list[AlertRecord]]):
    added = joined.get(incident.id)
    return added[-1].received_at if added else incident.last_alert_at


def _with_alerts(incident: Incident, alerts: Sequence[AlertRecord]) -> Incident:
    """The incident with ``alerts`` added (one copy of it, however many)."""
    last = max(a.received_at for a in alerts)
    return incident.model_copy(
        update={
            "severity": most_severe(incident.severity, *(a.severity for a in alerts)),
            "alert_count": incident.alert_count + len(alerts),
            "last_alert_at": last,
            "updated_at": max(incident.updated_at, last),
        }
    )


def _transition(
    before: Incident, after: Incident, action: Action, actor: str, note: str | None
) -> Transition:
    return Transition(
        id=0,  # the repository numbers it
        incident_id=before.id,
        action=action,
        from_state=before.state,
        to_state=after.state,
        at=after.updated_at,
        actor=actor,
        note=note,
        outcome=after.outcome if action is Action.RESOLVE else None,
    )
