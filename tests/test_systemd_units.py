"""The systemd units in deploy/systemd: they parse, start a command the CLI accepts, and keep
the hardening options (checked structurally everywhere, and by systemd-analyze where present).
"""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO, unavailable

from villagewatch.cli import build_parser

UNIT_DIR = REPO / "deploy" / "systemd"
UNITS = sorted(UNIT_DIR.glob("*.service"))
COMMANDS = {
    "villagewatch-broker": "broker",
    "villagewatch-hub": "hub",
    "villagewatch-edge@": "edge",
}
INSTANCE = "gw-plaza"  # the edge template's instance in these tests
HARDENING = {
    "NoNewPrivileges": "yes",
    "ProtectSystem": "strict",
    "ProtectHome": "yes",
    "PrivateTmp": "yes",
    "PrivateDevices": "yes",
    "ProtectKernelTunables": "yes",
    "ProtectKernelModules": "yes",
    "ProtectControlGroups": "yes",
    "RestrictSUIDSGID": "yes",
    "RestrictNamespaces": "yes",
    "LockPersonality": "yes",
    "CapabilityBoundingSet": "",
    "UMask": "0077",
}


def parse_unit(path: Path) -> dict[str, dict[str, list[str]]]:
    """Sections -> key -> values (systemd allows a key more than once)."""
    sections: dict[str, dict[str, list[str]]] = {}
    current = None
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], {})
            continue
        assert current is not None, f"{path.name}: {line!r} outside a section"
        key, sep, value = line.partition("=")
        assert sep, f"{path.name}: not key=value: {line!r}"
        current.setdefault(key.strip(), []).append(value.strip())
    return sections


def instantiate(text: str) -> str:
    return text.replace("%i", INSTANCE)


def test_there_is_a_unit_for_the_broker_the_hub_and_the_edge() -> None:
    assert [u.name for u in UNITS] == [
        "villagewatch-broker.service",
        "villagewatch-edge@.service",
        "villagewatch-hub.service",
    ]


@pytest.mark.parametrize("unit", UNITS, ids=lambda p: p.name)
def test_each_unit_runs_as_its_own_user_with_the_hardening_options(unit: Path) -> None:
    service = parse_unit(unit)["Service"]
    assert service["User"] == ["villagewatch"] and service["Group"] == ["villagewatch"]
    for key, value in HARDENING.items():
        assert service.get(key) == [value], f"{unit.name}: {key}={value} missing"
    assert service["SystemCallFilter"] == ["@system-service", "~@privileged"]
    # The only writable place is the service's own state folder.
    state = service["StateDirectory"][0]
    assert service["ReadWritePaths"] == [f"/var/lib/{state}"]
    assert parse_unit(unit)["Install"]["WantedBy"] == ["multi-user.target"]


@pytest.mark.parametrize("unit", UNITS, ids=lambda p: p.name)
def test_each_unit_starts_a_command_line_the_cli_accepts(unit: Path) -> None:
    service = parse_unit(unit)["Service"]
    (exec_start,) = service["ExecStart"]
    argv = shlex.split(instantiate(exec_start))
    assert argv[0] == "/opt/villagewatch/.venv/bin/villagewatch"
    args = build_parser().parse_args(argv[1:])  # exits (fails the test) on a bad option
    expected = next(cmd for prefix, cmd in COMMANDS.items() if unit.name.startswith(prefix))
    assert args.command == expected
    assert args.config == Path("/etc/villagewatch/site.yaml")


def analyzable_copies(tmp_path: Path) -> list[Path]:
    """The units with ExecStart pointing at this checkout's villagewatch (verify checks that
    the program exists); the edge template is instantiated."""
    program = Path(sys.executable).with_name("villagewatch")
    copies = []
    for unit in UNITS:
        text = unit.read_text().replace("/opt/villagewatch/.venv/bin/villagewatch", str(program))
        name = unit.name.replace("@.service", f"@{INSTANCE}.service")
        (tmp_path / unit.name).write_text(text)
        copies.append(tmp_path / name)
    return copies


def systemd_analyze() -> str:
    tool = shutil.which("systemd-analyze")
    if tool is None:
        unavailable("systemd-analyze not installed (apt-get install systemd); .ci/run installs it")
    return tool


def test_systemd_analyze_verify_accepts_every_unit(tmp_path: Path) -> None:
    tool = systemd_analyze()
    copies = analyzable_copies(tmp_path)
    result = subprocess.run(
        [tool, "verify", "--man=no", *map(str, copies)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=60,
    )
    assert result.returncode == 0 and result.stderr == "", result.stderr


def test_systemd_rates_every_unit_well_hardened(tmp_path: Path) -> None:
    """`systemd-analyze security` scores exposure from 0 (locked down) to 10 (none)."""
    tool = systemd_analyze()
    for copy in analyzable_copies(tmp_path):
        result = subprocess.run(
            [tool, "security", "--offline=true", "--no-pager", str(copy)],
            capture_output=True,
            text=True,
            cwd=tmp_path,
            timeout=60,
        )
        found = re.search(r"Overall exposure level for \S+: ([\d.]+)", result.stdout)
        if found is None:
            unavailable(f"this systemd-analyze cannot score offline: {result.stderr.strip()}")
        assert float(found.group(1)) <= 2.0, f"{copy.name}: exposure {found.group(1)}"
