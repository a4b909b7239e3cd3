"""``villagewatch report monthly --config site.yaml --month 2026-11 --out report.html``.

Reads the hub's database (read-only use; the hub may be running) and writes the printable
monthly report. A bad month, a missing database or an unwritable output prints one line
saying what to fix and exits with status 2, like every villagewatch command.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

EXIT_USAGE = 2


def month_arg(text: str):
    """argparse type for ``--month``: its error message is argparse's exit-2 message."""
    from hub.safety.months import Month

    try:
        return Month.parse(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def cmd_report_monthly(args: argparse.Namespace) -> int:
    from contract.siteconfig import load_site_config
    from hub.clock import system_clock
    from hub.safety.schedule import write_report
    from hub.storage.sqlite import DATABASE_FILE, open_sqlite_storage

    config = load_site_config(args.config)  # ConfigError: printed by the caller, exit 2
    data_dir = args.data_dir or config.resolve(config.hub.data_dir)
    if not (data_dir / DATABASE_FILE).is_file():
        fix = "fix: --data-dir the hub's folder, or run the hub once"
        print(f"error: {data_dir / DATABASE_FILE}: no hub database here\n  {fix}", file=sys.stderr)
        return EXIT_USAGE
    storage = open_sqlite_storage(data_dir)
    try:
        out = write_report(storage.incidents, config, args.month, system_clock(), args.out)
    except OSError as exc:
        print(f"error: cannot write {args.out}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_USAGE
    finally:
        storage.close()
    print(f"monthly report {args.month}: {out}")
    return 0


def add_report_command(sub: argparse._SubParsersAction) -> None:
    """``report monthly`` under the villagewatch command's subcommands."""
    report = sub.add_parser("report", help="reports for people", description="Reports.")
    actions = report.add_subparsers(dest="report_command", required=True, metavar="REPORT")
    monthly = actions.add_parser(
        "monthly",
        help="the monthly safety report (printable HTML)",
        description="Write the month's safety report for the station and the residents' "
        "committee: the safety index per area (docs/safety-index.md), trends, response "
        "times and the places and hours with most incidents. Open it in a browser and "
        "print it, or save it as PDF from the print dialog.",
    )
    monthly.set_defaults(func=cmd_report_monthly)
    monthly.add_argument("--config", type=Path, required=True, help="site YAML file")
    monthly.add_argument("--month", type=month_arg, required=True, help="YYYY-MM, e.g. 2026-11")
    monthly.add_argument("--out", type=Path, required=True, help="the HTML file to write")
    monthly.add_argument("--data-dir", type=Path, help="the hub's data folder (default: config)")
