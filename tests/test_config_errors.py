"""Every kind of site-file mistake gives one clear message (file, field path, fix) and exit 2.

The officer or installer who edits the YAML must never see a traceback.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from villagewatch.cli import DEFAULT_CONFIG, main

GOOD = yaml.safe_load(DEFAULT_CONFIG.read_text())


def write_config(tmp_path: Path, mutate) -> Path:
    data = yaml.safe_load(DEFAULT_CONFIG.read_text())
    mutate(data)
    path = tmp_path / "site.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def camera(data: dict) -> dict:
    return data["gateways"][0]["cameras"][0]


def zone(data: dict) -> dict:
    return camera(data)["zones"][0]


CASES = {
    "unknown field (typo)": (
        lambda d: camera(d).update(zonez=[]),
        ["gateways[0].cameras[0].zonez", "unknown field", "spelling"],
    ),
    "missing required field": (
        lambda d: d["site"].pop("id"),
        ["site.id", "Field required", "add it"],
    ),
    "value out of range": (
        lambda d: camera(d)["detect"].update(fps=0),
        ["gateways[0].cameras[0].detect.fps", "greater than 0"],
    ),
    "id with spaces and capitals": (
        lambda d: d["site"].update(id="River Side"),
        ["site.id", "lowercase"],
    ),
    "polygon with two points": (
        lambda d: zone(d).update(polygon=[[0, 0], [1, 1]]),
        ["zones[0].polygon", "at least 3"],
    ),
    "polygon point outside the frame": (
        lambda d: zone(d).update(polygon=[[0, 0], [1.5, 0], [1, 1]]),
        ["zones[0].polygon[1][0]", "less than or equal to 1"],
    ),
    "unknown object label": (
        lambda d: zone(d).update(objects=["unicorn"]),
        ["zones[0].objects", "unknown object labels ['unicorn']", "person"],
    ),
    "camera in an area that does not exist": (
        lambda d: camera(d).update(area="moon"),
        ["camera 'plaza' names area 'moon'", "north-gate"],
    ),
    "two nodes with one id": (
        lambda d: d["sensors"][0].update(node="gw-plaza"),
        ["node ids must be unique", "gw-plaza"],
    ),
    "unknown time zone": (
        lambda d: d["site"].update(timezone="Mars/Olympus"),
        ["site.timezone", "unknown time zone", "IANA"],
    ),
    "impossible schedule time": (
        lambda d: zone(d).update(schedule={"start": "25:00", "end": "06:00"}),
        ["zones[0].schedule.start"],
    ),
    "broker kind not offered": (
        lambda d: d["broker"].update(kind="rabbitmq"),
        ["broker.kind", "'auto', 'mosquitto', 'embedded' or 'external'"],
    ),
    "duplicate zone names": (
        lambda d: camera(d)["zones"].append(dict(zone(d))),
        ["zone names must be unique", "lawn"],
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_config_mistake_names_file_field_and_fix_and_exits_2(case, tmp_path, capsys):
    mutate, expected = CASES[case]
    path = write_config(tmp_path, mutate)
    assert main(["check", str(path)]) == 2
    err = capsys.readouterr().err
    assert f"config error in {path}" in err
    for fragment in expected:
        assert fragment in err, f"{fragment!r} missing from:\n{err}"
    assert "Traceback" not in err


def test_missing_file_is_named(tmp_path, capsys):
    assert main(["check", str(tmp_path / "nope.yaml")]) == 2
    assert "nope.yaml" in capsys.readouterr().err


def test_yaml_syntax_error_gives_line_and_column(tmp_path, capsys):
    path = tmp_path / "broken.yaml"
    path.write_text("site:\n  id: riverside\n  name: [unclosed\nareas: []\n")
    assert main(["check", str(path)]) == 2
    err = capsys.readouterr().err
    assert "not valid YAML at line" in err and "column" in err


def test_a_list_where_a_mapping_belongs(tmp_path, capsys):
    path = tmp_path / "list.yaml"
    path.write_text("- just\n- a list\n")
    assert main(["check", str(path)]) == 2
    assert "expected a mapping" in capsys.readouterr().err


def test_several_mistakes_are_all_reported_at_once(tmp_path, capsys):
    def two_mistakes(d):
        d["site"].update(id="Bad Id")
        camera(d)["detect"].update(fps=-1)

    assert main(["check", str(write_config(tmp_path, two_mistakes))]) == 2
    err = capsys.readouterr().err
    assert "site.id" in err and "detect.fps" in err


@pytest.mark.parametrize("command", ["demo", "hub", "edge", "broker", "provision"])
def test_every_service_command_refuses_a_bad_config_with_exit_2(command, tmp_path):
    """Through the real console entry point, as an installer would run it."""
    path = write_config(tmp_path, lambda d: d["site"].pop("name"))
    extra = ["gw-plaza"] if command == "provision" else []
    proc = subprocess.run(
        [sys.executable, "-m", "villagewatch.cli", command, "--config", str(path), *extra],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2, proc.stderr
    assert "site.name" in proc.stderr and "Traceback" not in proc.stderr


def test_the_example_site_file_is_valid(capsys):
    assert main(["check", str(DEFAULT_CONFIG)]) == 0
    assert "ok" in capsys.readouterr().out


def test_camera_sources_resolve_files_against_the_config_and_keep_urls(tmp_path):
    from contract.siteconfig import load_site_config

    config = load_site_config(DEFAULT_CONFIG)
    url = "rtsp://viewer:secret@192.0.2.10:554/stream1"
    assert config.resolve_source(url) == url
    local = config.resolve_source("footage/vtest_lawn_excerpt.mp4")
    assert Path(local).is_file() and Path(local).is_absolute()
