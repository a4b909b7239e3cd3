"""The community hub: ingest MQTT messages, store them, serve them to officers."""
