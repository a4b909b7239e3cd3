"""The safety index, patrol hot spots and the monthly report (issue 12).

* :mod:`hub.safety.facts` — which incidents count (false alarms, cancellations and duplicates
  never do);
* :mod:`hub.safety.index` — the published formula (docs/safety-index.md), per place and month;
* :mod:`hub.safety.service` — the site and each area for one month, from storage;
* :mod:`hub.safety.hotspots` — where and when incidents happened, by area and hour of week;
* :mod:`hub.safety.report` — the printable monthly report, and the worker that writes it.
"""
