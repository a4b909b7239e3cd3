"""Bridges from systems people already run (Zigbee2MQTT) to VillageWatch nodes.

Like ``edge``, ``broker`` and ``hub``, this part imports only ``contract``."""
