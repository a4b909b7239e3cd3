"""Sensor-node firmware, written for MicroPython and runnable on the host in tests.

Only what MicroPython has is used here (``socket``, ``json``, ``os``, ``time``): no pydantic,
no paho. The payloads it builds are checked against :mod:`contract.protocol` by the tests, so
the firmware and the hub cannot drift apart silently.
"""
