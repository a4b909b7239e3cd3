"""Escalation: an incident nobody acknowledges is brought to more and more people.

When an incident opens, the duty desk (every officer, tier 0) is told: the officer page
chimes on the live feed's ``incident`` event, and officers' browsers that subscribed get a
Web Push. If the incident is still ``new`` (not acknowledged) after ``after_s[severity]``
seconds (site file ``hub.escalation``; by default 30 s critical, 60 s major, 300 s minor,
600 s warning), it escalates to tier 1: its ``escalation_tier`` goes up, the live feed sends
``incident`` with change ``escalated`` (the page repeats its chime, more urgently), the
tier's roles get a Web Push and its apprise URLs a message. Each further wait, counted from
the last escalation, moves it one tier up; past the last tier, the last tier is told again
every wait. Acknowledging (or dispatching) stops it. A severity not in ``after_s`` never
escalates.

:meth:`EscalationWorker.tick` is the whole rule; the worker thread calls it every second,
tests call it with a :class:`~hub.clock.ManualClock`.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from contract.hub_settings import EscalationSettings, EscalationTier
from hub.clock import Clock
from hub.domain.incidents import Category, Incident, IncidentState
from hub.domain.notifications import Message
from hub.domain.users import Role
from hub.events import EventBus, HubEvent, IncidentChanged
from hub.notify.service import NotificationService
from hub.periodic import PeriodicWorker
from hub.storage.repositories import Storage

log = logging.getLogger(__name__)

#: Where the officer page shows one incident (the link in a push or an e-mail).
INCIDENT_PATH = "/#/incidents/{id}"
#: Who the duty desk is: tier 0, told when an incident opens.
DUTY_DESK_ROLES = (Role.OFFICER,)


def incident_message(
    incident: Incident, tier: int, tier_name: str | None, now: datetime
) -> Message:
    """What people read about ``incident`` at ``tier`` (0: it just opened)."""
    where = incident.location.area or incident.location.address or "no location"
    what = f"{incident.severity.value.upper()} {incident.kind}"
    if tier == 0:
        title = f"New incident: {incident.title}"
        body = f"{incident.ref} · {what} · {where}"
    else:
        waited = int((now - incident.opened_at).total_seconds())
        title = f"Not acknowledged (tier {tier}, {tier_name}): {incident.title}"
        body = f"{incident.ref} · {what} · {where} · waiting {_duration(waited)}"
    return Message(
        title=title[:200],
        body=body[:2000],
        incident_id=incident.id,
        severity=incident.severity,
        tier=tier,
        url=INCIDENT_PATH.format(id=incident.id),
    )


def _duration(seconds: int) -> str:
    if seconds < 120:
        return f"{seconds} s"
    return f"{seconds // 60} min"


class EscalationWorker(PeriodicWorker):
    """Escalates unacknowledged incidents and tells the duty desk of new ones."""

    def __init__(
        self,
        storage: Storage,
        bus: EventBus,
        settings: EscalationSettings,
        clock: Clock,
        notifications: NotificationService,
        interval_s: float = 1.0,
    ) -> None:
        super().__init__("hub-escalation", self.tick, interval_s)
        self.storage = storage
        self.bus = bus
        self.settings = settings
        self.clock = clock
        self.notifications = notifications
        bus.on(self._on_event)

    def tier(self, number: int) -> EscalationTier:
        """Tier ``number`` (1, 2 ...); beyond the last, the last."""
        return self.settings.tiers[min(number, len(self.settings.tiers)) - 1]

    def due_at(self, incident: Incident) -> datetime | None:
        """When ``incident`` escalates next, or None if it never will. Maintenance (a camera
        offline) waits in its own queue and pages nobody at night."""
        wait = self.settings.after_s.get(incident.severity)
        if wait is None or not self.settings.tiers or incident.state is not IncidentState.NEW:
            return None
        if incident.category is not Category.SECURITY:
            return None
        since = incident.opened_at
        if incident.escalation_tier > 0 and incident.escalated_at is not None:
            since = incident.escalated_at
        return since + timedelta(seconds=wait)

    def tick(self) -> list[Incident]:
        """Escalate every incident whose wait has run out; returns them (escalated)."""
        now = self.clock()
        escalated = []
        for incident in self.storage.incidents.unacknowledged():
            due = self.due_at(incident)
            if due is not None and due <= now:
                try:
                    done = self._escalate(incident.id, now)
                except Exception:  # one bad row must not stop the others escalating
                    log.exception("escalating incident %s failed", incident.id)
                    continue
                if done is not None:
                    escalated.append(done)
        return escalated

    def _escalate(self, incident_id: str, now: datetime) -> Incident | None:
        # Read again inside the transaction: an officer may have acknowledged it since the
        # list was read, and saving the old copy would undo that.
        with self.storage.transaction():
            current = self.storage.incidents.get(incident_id)
            due = self.due_at(current) if current is not None else None
            if current is None or due is None or due > now:
                return None
            number = current.escalation_tier + 1
            incident = self.storage.incidents.save(
                current.model_copy(update={"escalation_tier": number, "escalated_at": now})
            )
            detail = f"tier {number}"
            self.storage.audit.record(now, None, "incident.escalated", incident.id, detail)
            tier = self.tier(number)
            message = incident_message(incident, number, tier.name, now)
            self.notifications.enqueue_push(message, tier.roles)
            self.notifications.enqueue_apprise(message, tier.notify)
        log.warning("incident %s not acknowledged: escalated to tier %d", incident.ref, number)
        self.bus.publish(IncidentChanged(incident=incident, change="escalated"))
        return incident

    def _on_event(self, event: HubEvent) -> None:
        """Runs on the publisher's thread (ingest's, an API request's): only enqueues."""
        if not isinstance(event, IncidentChanged) or event.change != "opened":
            return
        if event.incident.state is not IncidentState.NEW:
            return  # opened already acknowledged (an officer logging a call they handle)
        message = incident_message(event.incident, 0, None, self.clock())
        self.notifications.enqueue_push(message, DUTY_DESK_ROLES)
