"""``VideoVerifier``: the hub's side of camera-verified alarms (the alarm industry's "video
verification").

A door contact says *something* opened; a camera says whether a person is there. When a
**sensor** alert (no camera of its own) is filed under an incident in an area that has
cameras, the hub asks each of those cameras' gateways for evidence
(:mod:`contract.verification`, docs/protocol.md *Video verification*)::

    AlertStored (ingest's thread: queue only) -> worker: VerifyRequest per camera, on the
        gateway's verify topic -> gateway: snapshot now, clip post_s later, on evidence/{id}
        -> paho thread: queue only -> worker: attach to the incident; verdict

* a **snapshot** or **clip** joins the incident as an attachment (JPEG, or MJPEG AVI) as soon
  as it arrives;
* a **person seen** (a confirmed person track in the window) makes the alarm *verified*: the
  incident's severity goes one step up the ladder (major -> critical), a note says which
  camera saw whom, and :class:`~hub.events.IncidentChanged` says ``"verified"``;
* when every camera asked has answered without a person, or has not answered within
  ``answer_s`` (on the hub's injected clock), the incident is *unverified*: a note says why
  (no person seen, or which gateway never answered) and the event says ``"unverified"``.

Like the live view's relay, the verifier holds its own MQTT connection (evidence never
passes through ingest: it is not an alert, and a 1 MB clip must not hold up a batch). Alerts
of cameras, maintenance alerts (a sensor's low battery), and alerts not filed under an
incident (a door in a disarmed area) ask nothing.
"""

from __future__ import annotations

import logging
import queue
import threading
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from contract.connection import NodeConnection
from contract.mqtt import LinkSettings, MqttLink
from contract.protocol import Channel, ProtocolError, Severity, parse_topic
from contract.siteconfig import SiteConfig
from contract.verification import (
    EvidenceHeader,
    VerificationSettings,
    VerifyRequest,
    decode_evidence,
    encode_request,
    evidence_subscription,
    verify_topic,
)
from hub.clock import Clock, system_clock
from hub.domain.alerts import AlertRecord
from hub.domain.incidents import SYSTEM_ACTOR
from hub.events import AlertStored, EventBus, HubEvent, IncidentChanged
from hub.storage.repositories import Storage

log = logging.getLogger(__name__)

_EXTENSION = {"image/jpeg": "jpg", "video/x-msvideo": "avi"}
#: Verified incidents remembered (ids, a few MB at most); older ones may be asked once more.
MAX_VERIFIED_REMEMBERED = 10_000


@dataclass
class _Asked:
    """One camera asked about one incident."""

    incident_id: str
    node: str
    camera: str
    at: datetime  # hub clock, when asked
    parts: set[str] = field(default_factory=set)  # evidence parts received
    timed_out: bool = False


@dataclass
class _Case:
    """One incident under verification: its requests and what they said."""

    requests: list[str]
    verified: bool = False
    seen_nothing: list[str] = field(default_factory=list)  # cameras that answered, no person
    silent: list[str] = field(default_factory=list)  # gateways that never answered


class VideoVerifier:
    """Asks gateways about sensor alarms and files their evidence under the incident."""

    def __init__(
        self,
        connection: NodeConnection,
        config: SiteConfig,
        storage: Storage,
        bus: EventBus,
        clock: Clock = system_clock,
        tick_s: float = 0.2,
    ) -> None:
        """``clock``: the hub's clock, for attachment times and the ``answer_s`` deadline
        (tests pass a :class:`~hub.clock.ManualClock`); ``tick_s``: how often the worker
        looks at deadlines when nothing arrives."""
        self.settings: VerificationSettings = config.hub.verification
        self.site, self.root = connection.site, connection.topic_root
        self.storage, self.bus, self.clock, self.tick_s = storage, bus, clock, tick_s
        sensors = {s.node for s in config.sensors}
        self._is_sensor: Callable[[str], bool] = sensors.__contains__
        #: A sensor's low battery or lost heartbeat is no alarm: no camera is asked.
        self._maintenance = frozenset(config.hub.incidents.maintenance_kinds)
        #: area -> [(gateway, camera)]
        self._cameras: dict[str, list[tuple[str, str]]] = {}
        for gateway in config.gateways:
            for camera in gateway.cameras:
                self._cameras.setdefault(camera.area, []).append((gateway.node, camera.name))
        self.link = MqttLink(
            LinkSettings.side_link(
                connection, "verify", subscriptions=[(evidence_subscription(self.root), 1)]
            ),
            on_message=lambda topic, payload: self._inbox.put(("evidence", topic, payload)),
        )
        self._inbox: queue.Queue = queue.Queue()
        self._asked: dict[str, _Asked] = {}  # request id -> what was asked
        self._cases: dict[str, _Case] = {}  # incident id -> its verification
        #: Incidents a camera has verified: their later alarms ask nobody again and raise
        #: nothing more (the demo asked about one plaza incident three times in 10 s).
        #: Newest last, bounded; an unverified incident is asked again on its next alarm.
        self._verified_ids: OrderedDict[str, None] = OrderedDict()
        #: Alarms not asked about because their incident is verified already: tests, stats.
        self.already_verified = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        #: (request id, part, seconds from asking to attached on the hub clock): bench, tests.
        self.attached: list[tuple[str, str, float]] = []
        #: Evidence messages refused: malformed, or answering nothing this hub asked.
        self.refused = 0
        if self.settings.enabled:
            bus.on(self._on_event)

    # --- life -----------------------------------------------------------------------------

    def start(self) -> None:
        self.link.start()
        self._thread = threading.Thread(target=self._run, name="vw-verify", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(5)
        self.link.stop(announce_offline=False)

    def pending(self) -> int:
        """Requests sent and not yet settled (tests, the bench)."""
        return len(self._asked)

    def _on_event(self, event: HubEvent) -> None:
        """Ingest's writer thread, after its commit: queue, nothing else."""
        if isinstance(event, AlertStored) and self._wants(event.alert):
            self._inbox.put(("alert", event.alert, None))

    def _wants(self, alert: AlertRecord) -> bool:
        return (
            alert.incident_id is not None
            and alert.camera is None
            and self._is_sensor(alert.node)
            and alert.kind not in self._maintenance
            and alert.area in self._cameras
        )

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                kind, a, b = self._inbox.get(timeout=self.tick_s)
            except queue.Empty:
                kind = None
            try:
                if kind == "alert":
                    self._ask(a)
                elif kind == "evidence":
                    self._evidence(a, b)
                self._deadlines()
            except Exception:  # one bad message must not end verification
                log.exception("video verification failed on %s", kind)

    # --- asking ---------------------------------------------------------------------------

    def _ask(self, alert: AlertRecord) -> None:
        """One request per camera of the alert's area; an incident being verified already
        is not asked about again."""
        incident_id = alert.incident_id
        assert incident_id is not None
        if incident_id in self._verified_ids:
            self.already_verified += 1
            return
        case = self._cases.get(incident_id)
        if case is not None and not self._settled(case):
            return
        s, now = self.settings, self.clock()
        case = self._cases[incident_id] = _Case(requests=[])
        for node, camera in self._cameras[alert.area]:
            request = VerifyRequest(
                site=self.site, node=node, camera=camera, request_id=uuid.uuid4().hex,
                pre_s=s.pre_s, post_s=s.post_s, clip_fps=s.clip_fps, clip_width=s.clip_width,
            )  # fmt: skip
            self._asked[request.request_id] = _Asked(incident_id, node, camera, now)
            case.requests.append(request.request_id)
            topic = verify_topic(self.root, self.site, node)
            if self.link.publish(topic, encode_request(request), qos=1) is None:
                log.warning("verify %s/%s: broker not connected", node, camera)
            log.info("asked %s/%s to verify incident %s", node, camera, incident_id)

    # --- answers --------------------------------------------------------------------------

    def _evidence(self, topic: str, payload: bytes) -> None:
        try:
            parsed = parse_topic(topic, self.root)
            if parsed.channel is not Channel.EVIDENCE or parsed.site != self.site:
                raise ProtocolError("bad_topic", topic)
            header, body = decode_evidence(payload)
        except ProtocolError as exc:
            self.refused += 1
            log.warning("refused verification evidence on %s: %s", topic[:200], exc)
            return
        asked = self._asked.get(parsed.request_id or "")
        # Only the gateway asked may answer (the broker's ACL ties the topic to its user).
        if asked is None or (parsed.node, header.camera) != (asked.node, asked.camera):
            self.refused += 1
            log.warning("evidence %s answers nothing asked; dropped", topic[:200])
            return
        if header.request_id != parsed.request_id or header.part in asked.parts:
            return  # a mismatch, or a QoS 1 duplicate
        asked.parts.add(header.part)
        if header.content_type is not None:
            self._attach(asked, header, body)
        case = self._cases[asked.incident_id]
        if header.person_seen and not case.verified:
            case.verified = True
            self._verified(asked, header)
        elif header.part == "clip" and not header.person_seen:
            case.seen_nothing.append(asked.camera)
        self._settle(asked.incident_id, case)

    def _attach(self, asked: _Asked, header: EvidenceHeader, body: bytes) -> None:
        at = self.clock()
        name = f"{asked.camera}-{header.part}.{_EXTENSION[header.content_type or '']}"
        repo = self.storage.incidents
        with self.storage.transaction():
            incident = repo.get(asked.incident_id)
            if incident is None:  # purged meanwhile
                return
            incident = repo.save(incident.model_copy(update={"updated_at": at}))
            repo.add_attachment(incident.id, at, SYSTEM_ACTOR, name, header.content_type, body)
        self.attached.append((header.request_id, header.part, (at - asked.at).total_seconds()))
        self.bus.publish(IncidentChanged(incident=incident, change="attachment"))

    def _verified(self, asked: _Asked, header: EvidenceHeader) -> None:
        text = (
            f"Verified: camera {asked.camera} saw a person (score {header.person_score:.2f})"
            f" around the alarm; severity raised."
        )
        self._note(asked.incident_id, text, "verified", raise_severity=True)

    # --- verdicts -------------------------------------------------------------------------

    def _deadlines(self) -> None:
        """Requests unanswered for ``answer_s`` (snapshot) or ``post_s + answer_s`` (clip)
        count as silent; their incident may then be settled."""
        now, s = self.clock(), self.settings
        for asked in list(self._asked.values()):
            if asked.timed_out or "clip" in asked.parts:
                continue
            wait = s.answer_s + (s.post_s if "snapshot" in asked.parts else 0.0)
            if now - asked.at >= timedelta(seconds=wait):
                asked.timed_out = True
                case = self._cases[asked.incident_id]
                if "snapshot" not in asked.parts:
                    case.silent.append(f"{asked.node}/{asked.camera}")
                elif not case.verified:
                    case.seen_nothing.append(asked.camera)
                self._settle(asked.incident_id, case)

    def _settled(self, case: _Case) -> bool:
        return all(self._done(self._asked[r]) for r in case.requests)

    @staticmethod
    def _done(asked: _Asked) -> bool:
        return asked.timed_out or "clip" in asked.parts

    def _settle(self, incident_id: str, case: _Case) -> None:
        """Once every request is done: say "unverified" (if nobody saw anyone) and forget."""
        if not self._settled(case):
            return
        for request_id in case.requests:
            self._asked.pop(request_id, None)
        self._cases.pop(incident_id, None)  # a later alarm of the incident asks afresh...
        if case.verified:  # ... unless a camera saw someone: it stays verified
            self._verified_ids[incident_id] = None
            while len(self._verified_ids) > MAX_VERIFIED_REMEMBERED:
                self._verified_ids.popitem(last=False)
            return
        why = []
        if case.seen_nothing:
            why.append(f"no person seen on camera {', '.join(sorted(set(case.seen_nothing)))}")
        if case.silent:
            wait = f"{self.settings.answer_s:g} s"
            why.append(f"no answer within {wait} from {', '.join(sorted(case.silent))}")
        self._note(incident_id, f"Unverified: {'; '.join(why)}.", "unverified")

    def _note(self, incident_id: str, text: str, change: str, raise_severity: bool = False) -> None:
        at = self.clock()
        repo = self.storage.incidents
        with self.storage.transaction():
            incident = repo.get(incident_id)
            if incident is None:
                return
            update: dict = {"updated_at": at}
            if raise_severity:
                update["severity"] = raised(incident.severity)
            incident = repo.save(incident.model_copy(update=update))
            repo.add_note(incident_id, at, SYSTEM_ACTOR, text)
        log.info("incident %s %s: %s", incident_id, change, text)
        self.bus.publish(IncidentChanged(incident=incident, change=change))


def raised(severity: Severity) -> Severity:
    """One step up the ladder (info -> warning -> ... -> critical), critical stays."""
    ladder = list(Severity)  # highest first
    return ladder[max(0, ladder.index(severity) - 1)]
