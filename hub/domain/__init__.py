"""The hub's typed records and rules, defined once.

Records are frozen pydantic models: storage returns them, services take them, and the API's
response schemas *are* these models (or subclasses adding links), so a shape is written in one
place. Nothing here knows about SQL, HTTP or MQTT.
"""
