"""The hub's side of sensor nodes: health from heartbeats, arming per area, and the
"two sensors agree" rule. :class:`hub.sensors.service.SensorHub` puts them together; see
docs/sensors.md for the rules as an operator reads them.

One module per concern: :mod:`~hub.sensors.health` (heartbeats → offline, battery, stuck,
tamper), :mod:`~hub.sensors.battery` (days left from the voltage trend),
:mod:`~hub.sensors.arming` (armed or not, by schedule or officer), :mod:`~hub.sensors.gate`
(the correlator in front of the incident service) and :mod:`~hub.sensors.incidents`
(incidents the hub opens without an alert).
"""
