"""Rule settings in the site file: the examples are valid, mistakes get a message with the fix."""

from __future__ import annotations

import copy
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import yaml
from conftest import REPO

from contract.rule_settings import Schedule
from contract.siteconfig import ConfigError, parse_site_config
from edge.rules import (
    CrowdRings,
    LineCrossing,
    Loitering,
    Rule,
    StoppedVehicle,
    ZoneIntrusion,
    build_rules,
)

EXAMPLE = REPO / "config" / "site.example.yaml"


def uncommented_example() -> dict:
    """The example site file with its commented ``example rules`` block switched on."""
    lines, inside = [], False
    for line in EXAMPLE.read_text().splitlines():
        if "# >>> example rules" in line or "# <<< example rules" in line:
            inside = ">>>" in line
            continue
        if inside:
            assert line.startswith("        # "), f"not a commented example line: {line!r}"
            line = "        " + line[len("        # ") :]
        lines.append(line)
    return yaml.safe_load("\n".join(lines))


def test_the_commented_example_rules_are_valid_and_build_one_rule_of_each_kind():
    config = parse_site_config(uncommented_example(), EXAMPLE)
    camera = config.gateways[0].cameras[0]
    rules = build_rules(camera, (768, 576), config.site.timezone)
    assert [type(r) for r in rules] == [
        ZoneIntrusion,
        LineCrossing,
        Loitering,
        CrowdRings,
        StoppedVehicle,
    ]
    assert all(isinstance(r, Rule) for r in rules)
    assert [r.kind for r in rules] == [
        "intrusion",
        "line_crossing",
        "loitering",
        "crowd",
        "stopped_vehicle",
    ]
    crowd = rules[3]
    # The demo calibration makes the plaza rings a few tens of m², as on the footage.
    areas = [ring.area_m2 for ring in crowd.rings]
    assert all(5 < a < 60 for a in areas)


def test_the_example_as_shipped_keeps_only_the_lawn_rule():
    config = parse_site_config(yaml.safe_load(EXAMPLE.read_text()), EXAMPLE)
    camera = config.gateways[0].cameras[0]
    assert [r.name for r in build_rules(camera, (768, 576))] == ["lawn"]
    lawn = camera.zones[0]
    assert (lawn.inertia, lawn.cooldown_s, lawn.group_s) == (1, 30, 10)


def camera_with(**rules) -> dict:
    data = copy.deepcopy(uncommented_example())
    data["gateways"][0]["cameras"][0].update(rules)
    return data


def problems(data: dict) -> str:
    with pytest.raises(ConfigError) as err:
        parse_site_config(data, EXAMPLE)
    return str(err.value)


RING = [[0.2, 0.4], [0.8, 0.4], [0.8, 0.9], [0.2, 0.9]]

MISTAKES = {
    "line with two identical points": (
        {"lines": [{"name": "gate", "points": [[0.3, 0.3], [0.3, 0.3]]}]},
        ["cameras[0].lines[0].points", "identical", "two different"],
    ),
    "line shorter than 1% of the frame": (
        {"lines": [{"name": "gate", "points": [[0.3, 0.3], [0.3, 0.305]]}]},
        ["lines[0].points", "shorter than 1%"],
    ),
    "unknown alert direction": (
        {"lines": [{"name": "gate", "points": [[0.3, 0.3], [0.3, 0.6]], "alert_on": "up"}]},
        ["lines[0].alert_on", "'in', 'out', 'both' or 'none'"],
    ),
    "ring not nested in the next one": (
        {
            "crowd": [
                {
                    "name": "stage",
                    "control": {"polygon": RING},
                    "core": {"polygon": [[0.1, 0.5], [0.5, 0.5], [0.5, 0.7]]},
                }
            ]
        },
        ["crowd[0]", "ring 'core' must lie inside ring 'control'", "point 0 [0.1, 0.5]"],
    ),
    "outer ring with a notch into the inner one": (
        {
            "crowd": [
                {
                    "name": "stage",
                    "control": {
                        "polygon": [[0.2, 0.2], [0.5, 0.5], [0.8, 0.2], [0.8, 0.8], [0.2, 0.8]]
                    },
                    "core": {"polygon": [[0.3, 0.3], [0.7, 0.3], [0.7, 0.7], [0.3, 0.7]]},
                }
            ]
        },
        ["ring 'core' must lie inside ring 'control'", "point [0.5, 0.5] reaches into it"],
    ),
    "crowd without rings": (
        {"crowd": [{"name": "stage"}]},
        ["crowd[0]", "at least one ring"],
    ),
    "ring limit of zero": (
        {"crowd": [{"name": "stage", "core": {"polygon": RING, "limit": 0}}]},
        ["crowd[0].core.limit", "greater than or equal to 1"],
    ),
    "calibration with collinear points": (
        {
            "calibration": {
                "image": [[0.1, 0.5], [0.5, 0.5], [0.9, 0.5], [0.5, 0.9]],
                "ground_m": [[0, 0], [5, 0], [5, 5], [0, 5]],
            }
        },
        ["calibration.image", "points 0, 1 and 2 are on one line"],
    ),
    "calibration points out of order": (
        {
            "calibration": {
                "image": [[0.1, 0.5], [0.9, 0.9], [0.9, 0.5], [0.1, 0.9]],
                "ground_m": [[0, 0], [5, 0], [5, 5], [0, 5]],
            }
        },
        ["calibration.image", "convex quadrilateral", "in order around the shape"],
    ),
    "calibration with three points": (
        {
            "calibration": {
                "image": [[0.1, 0.5], [0.9, 0.5], [0.9, 0.9]],
                "ground_m": [[0, 0], [5, 0], [5, 5]],
            }
        },
        ["calibration.image", "at least 4"],
    ),
    "ring above the calibrated horizon": (
        {
            "calibration": {
                "image": [[0.4, 0.6], [0.6, 0.6], [0.9, 0.9], [0.1, 0.9]],
                "ground_m": [[0, 20], [10, 20], [10, 0], [0, 0]],
            },
            "crowd": [
                {
                    "name": "stage",
                    "core": {"polygon": [[0.3, 0.1], [0.7, 0.1], [0.7, 0.8], [0.3, 0.8]]},
                }
            ],
        },
        ["crowd 'stage' ring 'core': point 0 [0.3, 0.1] is above the horizon"],
    ),
    "loiter zone with no area": (
        {"loitering": [{"name": "bins", "polygon": [[0.1, 0.1], [0.2, 0.2], [0.3, 0.3]]}]},
        ["loitering[0].polygon", "no area"],
    ),
    "no-parking rule watching people": (
        {"no_parking": [{"name": "bay", "polygon": RING, "objects": ["person", "unicorn"]}]},
        ["no_parking[0].objects", "unknown object labels ['unicorn']"],
    ),
    "typo in a rule field": (
        {"loitering": [{"name": "bins", "polygon": RING, "threshhold_s": 30}]},
        ["loitering[0].threshhold_s", "unknown field", "spelling"],
    ),
    "same name for a zone and a line": (
        {"lines": [{"name": "lawn", "points": [[0.3, 0.3], [0.3, 0.6]]}]},
        ["zone names must be unique", "['lawn']"],
    ),
}


@pytest.mark.parametrize("case", list(MISTAKES))
def test_rule_mistakes_name_the_field_and_the_fix(case):
    rules, fragments = MISTAKES[case]
    message = problems(camera_with(**rules))
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} missing from:\n{message}"


def test_zone_inertia_must_be_at_least_one_frame():
    data = uncommented_example()
    data["gateways"][0]["cameras"][0]["zones"][0]["inertia"] = 0
    assert "zones[0].inertia" in problems(data)


def test_a_weekend_night_schedule_runs_from_saturday_night_into_sunday_morning():
    london = ZoneInfo("Europe/London")
    night = Schedule(start="22:00", end="06:00", days=["sat"])
    assert night.covers(datetime(2025, 1, 18, 23, 0, tzinfo=london))  # Saturday
    assert night.covers(datetime(2025, 1, 19, 5, 59, tzinfo=london))  # Sunday, same night
    assert not night.covers(datetime(2025, 1, 19, 23, 0, tzinfo=london))  # Sunday night
    assert not night.covers(datetime(2025, 1, 18, 5, 0, tzinfo=london))  # Friday's night
    with pytest.raises(ValueError, match="empty window"):
        Schedule(start="08:00", end="08:00")
