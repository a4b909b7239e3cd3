"""The edge camera agent: capture → motion gate → detector → tracker → rules → outbox → MQTT.

Each stage is its own module with one small class; :mod:`edge.pipeline` chains them for a live
camera and :mod:`edge.replay` drives the very same chain over a recorded file.
"""
