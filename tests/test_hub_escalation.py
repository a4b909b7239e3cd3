"""Escalation of unacknowledged incidents, driven by a ManualClock and ``tick()``.

Incidents are real ones, opened through the incident service on a real SQLite store, as a
phone call to the duty desk would open them.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from contract.hub_settings import EscalationSettings, EscalationTier
from contract.protocol import Severity
from hub.clock import ManualClock
from hub.domain.incidents import Action, Incident, Location
from hub.domain.notifications import DeliveryStatus, Message
from hub.domain.users import Role
from hub.escalation import EscalationWorker
from hub.events import EventBus, HubEvent, IncidentChanged
from hub.incidents.requests import NewIncident
from hub.incidents.service import IncidentService
from hub.notify.apprise_notifier import AppriseNotifier
from hub.notify.service import NotificationService, NotificationWorker
from hub.notify.webpush import VapidKeys, WebPushNotifier
from hub.storage.repositories import Storage
from hub.storage.sqlite import open_sqlite_storage
from tests.hub_helpers import make_alert
from tests.notify_kit import Browser, HttpReceiver

SUPERVISORS_HOOK = "json://127.0.0.1:9/supervisors"  # nothing listens: only queued here
COMMANDERS_HOOK = "json://127.0.0.1:9/commanders"
TIERS = [
    EscalationTier(name="station supervisors", roles=["supervisor"], notify=[SUPERVISORS_HOOK]),
    EscalationTier(name="commanders", roles=["admin"], notify=[COMMANDERS_HOOK]),
]


@dataclass
class Hub:
    storage: Storage
    clock: ManualClock
    bus: EventBus
    incidents: IncidentService
    notifications: NotificationService
    escalation: EscalationWorker
    events: list[HubEvent]

    def call(self, severity: Severity, title: str = "Person climbing the school fence") -> Incident:
        report = NewIncident(
            source="call", kind="intrusion", severity=severity, title=title,
            location=Location(area="plaza"),
        )  # fmt: skip
        incident, _ = self.incidents.open_call(report, actor="olive")
        return incident

    def after(self, seconds: float) -> list[Incident]:
        """Move the clock on and run one escalation tick."""
        self.clock.advance(seconds=seconds)
        return self.escalation.tick()

    def tier(self, incident: Incident) -> int:
        return self.storage.incidents.get(incident.id).escalation_tier

    def escalations(self) -> list[IncidentChanged]:
        return [
            e for e in self.events if isinstance(e, IncidentChanged) and e.change == "escalated"
        ]


def make_hub(tmp_path, settings: EscalationSettings) -> Hub:
    storage = open_sqlite_storage(tmp_path / "hub")
    clock, bus = ManualClock(), EventBus()
    push = WebPushNotifier(
        storage.push_subscriptions, VapidKeys.load_or_create(storage.data_dir), "mailto:d@x.org"
    )
    notifications = NotificationService(storage, clock, [AppriseNotifier(), push])
    escalation = EscalationWorker(storage, bus, settings, clock, notifications)
    events: list[HubEvent] = []
    bus.on(events.append)
    incidents = IncidentService(storage, bus, clock=clock)
    return Hub(storage, clock, bus, incidents, notifications, escalation, events)


@pytest.fixture
def hub(tmp_path) -> Iterator[Hub]:
    hub = make_hub(tmp_path, EscalationSettings(tiers=TIERS))
    yield hub
    hub.storage.close()


def subscribe(hub: Hub, username: str, role: Role) -> None:
    hub.storage.users.create(username, role, "x", hub.clock())
    endpoint = f"https://push.example.net/{username}"
    hub.storage.push_subscriptions.save(username, endpoint, Browser().keys, hub.clock())


def test_an_unacknowledged_critical_incident_escalates_after_30_s_not_29(hub):
    incident = hub.call(Severity.CRITICAL)
    assert hub.after(29) == []
    assert hub.tier(incident) == 0
    [escalated] = hub.after(1)
    assert escalated.id == incident.id
    assert escalated.escalation_tier == 1 and escalated.escalated_at == hub.clock()


@pytest.mark.parametrize(("severity", "wait"), [(Severity.MAJOR, 60), (Severity.MINOR, 300)])
def test_major_and_minor_incidents_wait_60_and_300_s(hub, severity, wait):
    incident = hub.call(severity)
    assert hub.after(wait - 1) == []
    assert [i.id for i in hub.after(1)] == [incident.id]


def test_tier_2_follows_one_more_wait_after_tier_1(hub):
    incident = hub.call(Severity.CRITICAL)
    hub.after(30)
    assert hub.after(29) == []  # counted from the escalation, not from the opening
    [again] = hub.after(1)
    assert again.escalation_tier == 2 and hub.tier(incident) == 2


def test_past_the_last_tier_the_last_tier_is_told_again_every_wait(hub):
    incident = hub.call(Severity.CRITICAL)
    for _ in range(4):
        hub.after(30)
    assert hub.tier(incident) == 4
    deliveries = hub.storage.notifications.find(incident_id=incident.id)
    hooks = [d.target for d in reversed(deliveries) if d.channel == "apprise"]
    supervisors, commanders = mask(SUPERVISORS_HOOK), mask(COMMANDERS_HOOK)
    assert hooks == [supervisors, commanders, commanders, commanders]


def mask(url: str) -> str:
    return AppriseNotifier().describe(url)


def test_acknowledging_stops_escalation(hub):
    incident = hub.call(Severity.CRITICAL)
    hub.after(30)
    hub.incidents.act(incident.id, Action.ACKNOWLEDGE, actor="olive")
    assert hub.after(30) == []
    assert hub.after(3600) == []
    assert hub.tier(incident) == 1


def test_dispatching_straight_away_stops_it_too(hub):
    incident = hub.call(Severity.CRITICAL)
    hub.incidents.act(incident.id, Action.DISPATCH, actor="olive")
    assert hub.after(3600) == []


def test_a_severity_without_a_wait_never_escalates(tmp_path):
    hub = make_hub(tmp_path, EscalationSettings(after_s={Severity.CRITICAL: 30}, tiers=TIERS))
    try:
        hub.call(Severity.MAJOR)
        hub.call(Severity.INFO)
        assert hub.after(86400) == []
    finally:
        hub.storage.close()


def test_an_escalation_is_saved_audited_published_and_tells_the_tier(hub):
    subscribe(hub, "olive", Role.OFFICER)
    subscribe(hub, "sam", Role.SUPERVISOR)
    subscribe(hub, "ada", Role.ADMIN)
    incident = hub.call(Severity.CRITICAL, "Break-in at the school")
    opened = {d.id for d in hub.storage.notifications.find()}

    hub.after(30)

    [event] = hub.escalations()
    assert event.incident.id == incident.id and event.incident.escalation_tier == 1
    [audit] = hub.storage.audit.entries(action="incident.escalated")
    assert (audit.username, audit.target, audit.detail) == (None, incident.id, "tier 1")
    new = [d for d in hub.storage.notifications.find() if d.id not in opened]
    assert sorted(d.target for d in new) == sorted(["sam's browser 2", mask(SUPERVISORS_HOOK)])
    assert {d.tier for d in new} == {1}
    assert all(d.title.startswith("Not acknowledged (tier 1, station supervisors)") for d in new)
    assert all(d.incident_id == incident.id for d in new)


def test_an_opened_incident_queues_a_push_to_the_duty_desk_only(hub):
    subscribe(hub, "olive", Role.OFFICER)
    subscribe(hub, "otto", Role.OFFICER)
    subscribe(hub, "sam", Role.SUPERVISOR)
    incident = hub.call(Severity.MAJOR, "Fight outside the bar")

    queued = hub.storage.notifications.find(incident_id=incident.id)
    assert sorted(d.target for d in queued) == ["olive's browser 1", "otto's browser 2"]
    assert all(d.channel == "webpush" and d.tier == 0 for d in queued)
    assert all(d.status is DeliveryStatus.PENDING for d in queued)  # queued, not sent
    assert queued[0].title == "New incident: Fight outside the bar"


def test_opening_an_incident_does_not_wait_for_a_hanging_notification(hub):
    """The "opened" handler runs on the publisher's thread (ingest, an API request): it
    only queues, so a receiver that never answers cannot hold up opening incidents."""
    receiver = HttpReceiver()
    receiver.hang.set()
    subscribe(hub, "olive", Role.OFFICER)
    worker = NotificationWorker(hub.notifications, interval_s=0.05)
    worker.start()
    try:
        stuck = Message(title="an earlier message", body="to a receiver that hangs")
        hub.notifications.enqueue("apprise", f"json://127.0.0.1:{receiver.port}/", stuck)
        assert receiver.arrived.wait(30), "the worker never reached the receiver"
        incident = hub.call(Severity.CRITICAL)  # returns although the worker is stuck
        [push] = hub.storage.notifications.find(incident_id=incident.id)
        assert push.status is DeliveryStatus.PENDING
    finally:
        receiver.close()
        worker.stop()


def test_an_escalation_reaches_the_tiers_webhook(tmp_path):
    receiver = HttpReceiver()
    tier = EscalationTier(name="supervisors", notify=[f"json://127.0.0.1:{receiver.port}/sup"])
    hub = make_hub(tmp_path, EscalationSettings(tiers=[tier]))
    try:
        incident = hub.call(Severity.CRITICAL, "Car on fire")
        hub.after(30)
        hub.notifications.deliver_due()
    finally:
        receiver.close()
        hub.storage.close()
    [request] = receiver.requests
    posted = json.loads(request.body)
    assert posted["title"] == "Not acknowledged (tier 1, supervisors): Car on fire"
    assert incident.ref in posted["message"] and "waiting 30 s" in posted["message"]


def test_a_maintenance_incident_waits_in_its_queue_and_pages_nobody(hub):
    """A camera that went dark is work for the morning, not a page to the commander."""
    alert = make_alert(
        ts=hub.clock(), kind="stream_lost", message="camera plaza: no frames for 30 s"
    )
    record = hub.storage.alerts.insert(alert, hub.clock()).record
    incident, change = hub.incidents.correlate(record)
    assert (incident.category, change) == ("maintenance", "opened")
    assert hub.after(3600) == []
    assert hub.tier(incident) == 0
