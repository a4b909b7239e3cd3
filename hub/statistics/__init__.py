"""Statistics for the officer page: what happened, when and where, how fast the response
was, and which alert sources cry wolf, each for a period of the site's calendar compared with
the period before and the same period last year.

* :mod:`.periods` — periods as whole local days, and the two periods each is compared with;
* :mod:`.changes` — a change with the counts behind it, or "too few to compare";
* :mod:`.queries` — the SQL, its covering indexes, and local hours across daylight saving;
* :mod:`.report` — incidents by kind, area, hour and weekday; response-time segments;
* :mod:`.false_alarms` — false-alarm rates per camera, rule and sensor.

Served by ``hub/api/routers/statistics.py`` and drawn by ``hub/web/static/statistics.js``.
"""
