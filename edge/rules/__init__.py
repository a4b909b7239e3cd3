"""Rules turn tracked objects into alerts; each is a small class with one obvious method.

=====================  ==================  ==========================================
site file (``Camera``) class               alert ``kind``
=====================  ==================  ==========================================
``zones``              ZoneIntrusion       ``intrusion``
``lines``              LineCrossing        ``line_crossing`` (and in/out counts)
``loitering``          Loitering           ``loitering``
``crowd``              CrowdRings          ``crowd`` (and occupancy, /m², heatmap)
``no_parking``         StoppedVehicle      ``stopped_vehicle``
=====================  ==================  ==========================================

:func:`build_rules` builds a camera's rules once per frame size (their geometry, given in
frame fractions, becomes pixels then). Feed every rule every detector run::

    rules = build_rules(camera, frame.size, site.timezone)
    hits = [hit for rule in rules for hit in rule.evaluate(tracked, when)]

``when`` is the frame's event time: rules never read the clock, so replays are exact. Every
rule also has ``name``, ``kind``, ``outline`` (pixel geometry for a snapshot) and ``state()``
(plain-JSON figures). :class:`~edge.rules.annotate.RuleAnnotator` draws them all. How one
incident makes one alert — cooldown and grouping — is in :mod:`edge.rules.cooldown`.
"""

from __future__ import annotations

from contract.siteconfig import Camera
from edge.rules.base import Rule, RuleHit
from edge.rules.crowd import CrowdRings
from edge.rules.ground import GroundPlane
from edge.rules.heatmap import Heatmap
from edge.rules.line import LineCrossing
from edge.rules.loiter import Loitering
from edge.rules.vehicle import StoppedVehicle
from edge.rules.zone import ZoneIntrusion

__all__ = [
    "CrowdRings",
    "GroundPlane",
    "Heatmap",
    "LineCrossing",
    "Loitering",
    "Rule",
    "RuleHit",
    "StoppedVehicle",
    "ZoneIntrusion",
    "build_rules",
]


def build_rules(camera: Camera, frame_size: tuple[int, int], timezone: str = "UTC") -> list[Rule]:
    """Every rule of ``camera`` for frames of ``frame_size`` (width, height), in file order
    by kind: zones, lines, loitering, crowd, no_parking."""
    ground = GroundPlane(camera.calibration, frame_size) if camera.calibration else None
    return [
        *(ZoneIntrusion(r, frame_size, timezone) for r in camera.zones),
        *(LineCrossing(r, frame_size, timezone) for r in camera.lines),
        *(Loitering(r, frame_size, timezone) for r in camera.loitering),
        *(CrowdRings(r, frame_size, timezone, ground) for r in camera.crowd),
        *(StoppedVehicle(r, frame_size, timezone) for r in camera.no_parking),
    ]
