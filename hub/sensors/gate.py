"""The alarm gate: arming and "two sensors agree", in front of the incident service.

Ingest files every stored alert through a :class:`hub.ingest.Correlator`. The gate is one:
it decides, per alert, before the incident service sees it —

* **pass** — maintenance kinds, always-on kinds (panic, smoke ...), kinds arming does not
  gate, and gated kinds in an armed area: filed as before;
* **drop** — a gated kind (a door) in a *disarmed* area: the alert is stored and logged,
  but opens and joins no incident;
* **hold** — in an area with a ``confirm`` rule, the first alert of a rule's kinds: stored
  without an incident, remembered for ``window_s``;
* **pair** — the second one, from *another* sensor (``two_sensors``) or from a camera when the
  first came from a sensor or the other way round (``sensor_and_camera``), within the
  window: it opens the incident and the held one joins it. While an incident of the area is
  open, later alerts join it directly: the alarm is already confirmed.

Held alerts are remembered in memory; after a restart, an area's first look reads them back
from the store (its alerts of the window with no incident, received while it was armed), so
a restart between the two sensors does not lose the pair.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Literal

from contract.sensor_settings import ConfirmRule
from hub.domain.alerts import AlertQuery, AlertRecord
from hub.domain.incidents import Category, Incident, most_severe
from hub.incidents.service import IncidentService
from hub.sensors.arming import ArmingBoard

log = logging.getLogger(__name__)

Decision = Literal["pass", "drop", "hold", "pair"]
Filed = tuple[Incident, str] | None


class AlarmGate:
    """A :class:`hub.ingest.Correlator` that applies arming and confirm rules, then hands
    what alarms to ``incidents``."""

    def __init__(
        self, incidents: IncidentService, arming: ArmingBoard, rules: Sequence[ConfirmRule]
    ) -> None:
        self.incidents = incidents
        self.storage = incidents.storage
        self.arming = arming
        self.rules = {rule.area: rule for rule in rules}
        self._held: dict[str, list[AlertRecord]] = {}
        self._lock = threading.Lock()

    # --- the Correlator protocol -------------------------------------------------------------

    def correlate(self, alert: AlertRecord) -> Filed:
        """One stored alert (ingest's one-by-one path)."""
        decision, partner = self._decide(alert)
        if decision == "drop":
            _log_disarmed({alert.area: Counter([alert.kind])})
        if decision in ("drop", "hold"):
            return None
        filed = self.incidents.correlate(alert)
        if decision == "pair" and filed is not None and partner is not None:
            incident = self._join(filed[0], partner, stored=True)
            return incident, filed[1]
        return filed

    def correlate_many(self, alerts: Sequence[AlertRecord]) -> list[Filed]:
        """A batch about to be stored, in order. Alerts that pass go to the incident
        service together (its group path); a pair is filed on its own, with its partner
        joined — stored already, or earlier in this very batch."""
        results: list[Filed] = [None] * len(alerts)
        index = {alert.id: i for i, alert in enumerate(alerts)}
        run: list[int] = []

        def flush() -> None:
            filed = self.incidents.correlate_many([alerts[i] for i in run])
            for i, found in zip(run, filed, strict=True):
                results[i] = found
            run.clear()

        dropped: dict[str, Counter[str]] = {}
        for i, alert in enumerate(alerts):
            decision, partner = self._decide(alert)
            if decision == "pass":
                run.append(i)
            elif decision == "drop":
                dropped.setdefault(alert.area, Counter())[alert.kind] += 1
            elif decision == "pair" and partner is not None:
                flush()
                filed = self.incidents.correlate_many([alert])[0]
                if filed is None:
                    continue
                j = index.get(partner.id)
                incident = self._join(filed[0], partner, stored=j is None)
                results[i] = (incident, filed[1])
                if j is not None:
                    results[j] = (incident, "alert_added")
        if run:
            flush()
        if dropped:
            _log_disarmed(dropped)
        return results

    # --- deciding ----------------------------------------------------------------------------

    def _decide(self, alert: AlertRecord) -> tuple[Decision, AlertRecord | None]:
        if alert.kind in self.incidents.maintenance_kinds:
            return "pass", None
        at = alert.received_at
        if not self.arming.alarms(alert.kind, alert.area, at):
            log.debug("%s alert %s from %s not alarmed", alert.kind, alert.id, alert.node)
            return "drop", None
        rule = self.rules.get(alert.area)
        if rule is None or alert.kind not in rule.kinds or self._alarming(alert):
            return "pass", None
        with self._lock:
            since = at - timedelta(seconds=rule.window_s)
            if alert.area not in self._held:
                self._held[alert.area] = self._stored_held(rule, alert, since)
            held = [h for h in self._held[alert.area] if h.received_at >= since]
            partner = next((h for h in held if _agree(rule, h, alert)), None)
            if partner is not None:
                held.remove(partner)
            else:
                held.append(alert)
            self._held[alert.area] = held
        if partner is None:
            log.info(
                "%s alert %s in %s held: the rule needs %s within %.0f s",
                alert.kind, alert.id, alert.area, rule.needs.replace("_", " "), rule.window_s,
            )  # fmt: skip
            return "hold", None
        return "pair", partner

    def _stored_held(
        self, rule: ConfirmRule, alert: AlertRecord, since: datetime
    ) -> list[AlertRecord]:
        """After a restart: the area's alerts a rule would be holding now, from the store."""
        page = self.storage.alerts.find(AlertQuery(area=rule.area, since=since, limit=200))
        return [
            a
            for a in reversed(page.items)  # oldest first, as they were held
            if a.id != alert.id
            and a.incident_id is None
            and a.kind in rule.kinds
            and self.arming.alarms(a.kind, a.area, a.received_at)
        ]

    def _alarming(self, alert: AlertRecord) -> bool:
        """Is an incident of the alert's area open and recent (then it simply joins)?"""
        window = timedelta(seconds=self.incidents.settings.correlation_window_s)
        since = alert.received_at - window
        repo = self.storage.incidents
        return repo.open_for_correlation(alert.area, Category.SECURITY, since) is not None

    def _join(self, incident: Incident, partner: AlertRecord, stored: bool) -> Incident:
        """The held alert joins the incident its partner opened (inside the caller's
        transaction); ``stored``: it was stored by an earlier batch, so link it here."""
        joined = incident.model_copy(
            update={
                "severity": most_severe(incident.severity, partner.severity),
                "alert_count": incident.alert_count + 1,
            }
        )
        saved = self.storage.incidents.save(joined)
        if stored:
            self.storage.alerts.set_incident(partner.id, incident.id)
        log.info("incident %s: %s and %s agree", saved.ref, partner.id, incident.kind)
        return saved


def _log_disarmed(dropped: dict[str, Counter[str]]) -> None:
    """One INFO line per area and batch, like ingest's own log: a line per alert costs the
    writer dearly at thousands a second (each alert has its DEBUG line)."""
    for area, kinds in dropped.items():
        what = ", ".join(f"{kind} x{n}" for kind, n in sorted(kinds.items()))
        log.info("%s in disarmed area %s: stored, not alarmed", what, area)


def _agree(rule: ConfirmRule, first: AlertRecord, second: AlertRecord) -> bool:
    """Do two alerts confirm each other under ``rule``?"""
    if rule.needs == "sensor_and_camera":
        return (first.camera is None) != (second.camera is None)
    return (first.node, first.camera) != (second.node, second.camera)
