"""Commands that read the hub's records from its data folder while the hub may run:
``audit verify`` (the hash chain) and ``report monthly`` (the printable safety report).

Both find the hub's database the same way (:func:`hub_data_dir`): ``--data-dir``, else the
site file's ``hub.data_dir``; a folder with no database is a usage error naming the fix.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from contract.siteconfig import load_site_config
from villagewatch.usage import UsageError


def hub_data_dir(args: argparse.Namespace) -> Path:
    """The hub's data folder from ``--data-dir`` or ``--config``, holding its database."""
    from hub.storage.sqlite import DATABASE_FILE

    if args.data_dir is None and args.config is None:
        raise UsageError("give --config FILE (the hub's data folder from it) or --data-dir DIR")
    if args.data_dir is not None:
        data_dir = args.data_dir
    else:
        config = load_site_config(args.config)
        data_dir = config.resolve(config.hub.data_dir)
    if not (data_dir / DATABASE_FILE).is_file():
        raise UsageError(
            f"{data_dir / DATABASE_FILE}: no hub database here\n"
            "  fix: --data-dir the hub's folder, or run the hub once"
        )
    return data_dir


def cmd_audit_verify(args: argparse.Namespace) -> int:
    """Exit 0 when the audit chain is intact, 1 naming the first bad row (2: bad input)."""
    from hub.privacy.audit_chain import verify_chain
    from hub.storage.sqlite import DATABASE_FILE

    report = verify_chain(hub_data_dir(args) / DATABASE_FILE)
    print(report.describe(), file=sys.stdout if report.intact else sys.stderr)
    return 0 if report.intact else 1


def month_arg(text: str):
    """argparse type for ``--month``: its error message is argparse's exit-2 message."""
    from hub.safety.months import Month

    try:
        return Month.parse(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def cmd_report_monthly(args: argparse.Namespace) -> int:
    from hub.clock import system_clock
    from hub.safety.schedule import write_report
    from hub.storage.sqlite import open_sqlite_storage

    config = load_site_config(args.config)  # ConfigError: printed by main, exit 2
    storage = open_sqlite_storage(hub_data_dir(args))
    try:
        out = write_report(storage.incidents, config, args.month, system_clock(), args.out)
    except OSError as exc:
        raise UsageError(f"cannot write {args.out}: {exc.strerror or exc}") from None
    finally:
        storage.close()
    print(f"monthly report {args.month}: {out}")
    return 0


def add_records_commands(sub: argparse._SubParsersAction) -> None:
    """``audit verify`` and ``report monthly`` under the villagewatch command."""
    au = sub.add_parser("audit", help="the hub's audit log", description="The audit log.")
    au_sub = au.add_subparsers(dest="audit_command", required=True, metavar="ACTION")
    av = au_sub.add_parser(
        "verify",
        help="prove the audit chain is unbroken",
        description="Walk the hash chain of the hub's audit log (read-only; the hub may run). "
        "Exit 0: 'chain intact: N rows, head HASH' (note the head: a later one must descend "
        "from it). Exit 1: the first row that was modified, deleted or reordered.",
    )
    av.set_defaults(func=cmd_audit_verify)
    av.add_argument("--config", type=Path, default=None, help="site YAML file")
    av.add_argument("--data-dir", type=Path, help="the hub's data folder (instead of --config)")

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
