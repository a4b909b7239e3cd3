"""The safety index, patrol hot spots and the monthly report (issue 12).

* :mod:`hub.safety.facts` — which incidents count (false alarms, cancellations and duplicates
  never do), and reading them from storage;
* :mod:`hub.safety.months` — calendar months in the site's time zone;
* :mod:`hub.safety.index` — the published formula (docs/safety-index.md), per place and month;
* :mod:`hub.safety.service` — the site and each area for one month;
* :mod:`hub.safety.hotspots` — where and when incidents happened, by area and hour of week;
* :mod:`hub.safety.report` and :mod:`hub.safety.report_html` — the printable monthly report;
* :mod:`hub.safety.schedule` — the hub's monthly writer and the folder it writes into;
* ``villagewatch report monthly`` is in :mod:`villagewatch.records_cli`.
"""
