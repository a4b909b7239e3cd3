"""Incidents: what the duty desk works on.

:mod:`hub.incidents.service` opens incidents (from alerts, calls and other systems), moves
them through their lifecycle and keeps their notes and photos; :mod:`hub.incidents.timings`
turns their milestones into response-time figures.
"""
