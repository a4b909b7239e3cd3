"""The community hub side: MQTT broker set-up, the aggregator, and the officer app/API."""
