"""What every villagewatch command does with bad input: one line saying what to fix, exit 2."""

from __future__ import annotations

EXIT_USAGE = 2


class UsageError(Exception):
    """Bad input from the user (not a bug): printed without a traceback, exit 2."""
