"""The monthly report on a schedule: the hub writes last month's report into its data folder.

On ``safety.report.day`` at ``safety.report.hour`` (site time) the month just ended is
complete enough to report: :class:`MonthlyReportWorker` then writes
``<data_dir>/reports/safety-report-YYYY-MM.html``. A hub that was down at that hour writes it
at its next check the same month; a report already written is never rewritten by the
schedule (the command line can write one again). The clock is injected, so tests move time
instead of waiting for it.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from pydantic import BaseModel

from contract.files import private_dir, write_durably
from contract.siteconfig import SiteConfig
from hub.clock import Clock
from hub.periodic import PeriodicWorker
from hub.safety.months import Month
from hub.safety.report import monthly_report
from hub.safety.report_html import render
from hub.storage.incidents import IncidentRepository

FOLDER = "reports"
NAME = re.compile(r"^safety-report-(\d{4}-\d{2})\.html$")


class ReportFile(BaseModel):
    month: str
    name: str
    size: int
    written_at: datetime


class ReportShelf:
    """The folder of written reports."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)

    def path(self, month: Month) -> Path:
        return self.folder / f"safety-report-{month}.html"

    def write(self, month: Month, html: str) -> Path:
        private_dir(self.folder)
        path = self.path(month)
        write_durably(path, html.encode("utf-8"))
        return path

    def list(self) -> list[ReportFile]:
        """Every report written, newest month first."""
        if not self.folder.is_dir():
            return []
        found = []
        for path in self.folder.iterdir():
            if match := NAME.match(path.name):
                stat = path.stat()
                written = datetime.fromtimestamp(stat.st_mtime, UTC)
                found.append(
                    ReportFile(
                        month=match[1], name=path.name, size=stat.st_size, written_at=written
                    )
                )
        return sorted(found, key=lambda r: r.month, reverse=True)


def write_report(
    repo: IncidentRepository, config: SiteConfig, month: Month, now: datetime, out: Path
) -> Path:
    """Build the report of ``month`` and write it to ``out`` (whole or not at all)."""
    html = render(monthly_report(repo, config, month, now))
    out.parent.mkdir(parents=True, exist_ok=True)
    write_durably(out, html.encode("utf-8"), mode=0o644)
    return out


class MonthlyReportWorker(PeriodicWorker):
    """Checks every ``interval_s`` whether last month's report is due and missing."""

    def __init__(
        self,
        repo: IncidentRepository,
        config: SiteConfig,
        shelf: ReportShelf,
        clock: Clock,
        interval_s: float = 900.0,
    ) -> None:
        super().__init__("safety-report", self.tick, interval_s)
        self.repo, self.config, self.shelf, self.clock = repo, config, shelf, clock

    def due(self, now: datetime) -> Month | None:
        """The month whose report should exist by ``now`` and does not, else None."""
        schedule = self.config.safety.report
        if not schedule.enabled:
            return None
        zone = self.config.site.timezone
        local = now.astimezone(ZoneInfo(zone))
        this = Month(local.year, local.month)
        if (local.day, local.hour) < (schedule.day, schedule.hour):
            return None
        month = this.shift(-1)
        return None if self.shelf.path(month).exists() else month

    def tick(self) -> Path | None:
        """Write the due report, if any; returns its path."""
        now = self.clock()
        month = self.due(now)
        if month is None:
            return None
        return write_report(self.repo, self.config, month, now, self.shelf.path(month))
