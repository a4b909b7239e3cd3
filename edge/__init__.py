"""The edge camera agent: capture → privacy mask → motion gate → detector → filters →
tracker → rules → privacy-filtered snapshot → outbox → MQTT, with camera health alongside.

Each stage is its own module with one small class; :mod:`edge.pipeline` chains them for a live
camera and :mod:`edge.replay` drives the very same chain over a recorded file.
"""
