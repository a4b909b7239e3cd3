"""An order reaches the patrol's phone even when its page is closed: Web Push on dispatch.

The patrol page rings while it is open (the live feed's ``assignment`` event); a phone in a
pocket with the page closed hears nothing from that. So when a unit is dispatched — by the
duty desk, or as backup a patrol asked for — :class:`DispatchPush` queues a Web Push for
every browser each member of the unit subscribed (``POST /api/push/subscriptions``).

It goes through the notifications queue like every other message
(:class:`~hub.notify.service.NotificationService`): a delivery row per browser, sent by
the notification worker, retried with backoff, listed for supervisors; nothing when the
site has Web Push off (``hub.web_push.enabled``) or a member is disabled. The payload names
the incident (ref and title) and opens the patrol page (``/#/patrol``) when tapped.
"""

from __future__ import annotations

import logging

from hub.domain.incidents import Incident
from hub.domain.notifications import Message
from hub.domain.units import Assignment, Unit
from hub.events import AssignmentChanged, EventBus, HubEvent
from hub.notify.service import NotificationService
from hub.storage.repositories import Storage

log = logging.getLogger(__name__)

#: Where the patrol's phone shows its orders.
PATROL_PATH = "/#/patrol"


def order_message(assignment: Assignment, unit: Unit, incident: Incident) -> Message:
    """What a unit's members read on their lock screen for ``assignment``."""
    where = incident.location.area or incident.location.address or "no location"
    what = f"{incident.severity.value.upper()} {incident.kind}"
    kind = "Backup needed" if assignment.backup_for else "New order"
    return Message(
        title=f"{kind} for {unit.callsign}: {incident.title}"[:200],
        body=f"{incident.ref} · {what} · {where}"[:2000],
        incident_id=incident.id,
        severity=incident.severity,
        url=PATROL_PATH,
    )


class DispatchPush:
    """Queues the Web Push of each new order (see the module docstring)."""

    def __init__(self, storage: Storage, bus: EventBus, notifications: NotificationService):
        self.storage = storage
        self.notifications = notifications
        bus.on(self._on_event)

    def _on_event(self, event: HubEvent) -> None:
        """Runs on the dispatcher's thread after its transaction: only enqueues."""
        if not isinstance(event, AssignmentChanged) or event.change != "dispatched":
            return
        try:
            self.push(event.assignment)
        except Exception:  # the order stands whatever happens to its push
            log.exception("queuing the push of assignment %s failed", event.assignment.id)

    def push(self, assignment: Assignment) -> int:
        """Queue the order's push to its unit's members; returns the deliveries queued."""
        unit = self.storage.units.get(assignment.unit_id)
        incident = self.storage.incidents.get(assignment.incident_id)
        if unit is None or incident is None:
            return 0
        message = order_message(assignment, unit, incident)
        return len(self.notifications.enqueue_push_to(message, unit.members))
