"""Event security across cameras: an event's three rings on the site map, filled by the
cameras' crowd counts (not double-counting cameras that overlap), with thresholds that open
incidents, a live dashboard and a replay of the stored series.

Not :mod:`hub.events` (the hub's in-process event bus): here an *event* is a festival night.

- :mod:`.geometry`: ring areas in m² from WGS84 polygons.
- :mod:`.aggregate`: one moment's figures per ring from the cameras' counts (pure).
- :mod:`.alarms`: when a ring's figures open an incident (hysteresis, pure).
- :mod:`.store`: supervisor-made events and the stored series, in the hub's SQLite file.
- :mod:`.service`: the sampler (a periodic worker), the dashboard and the replay.
"""
