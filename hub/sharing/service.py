"""Department accounts, scoped tokens and reading the shared datasets.

Tokens are random (``vws_`` + 256 bits), shown once when issued and stored only as their
SHA-256, like login sessions (:mod:`hub.accounts`). The prefix keeps them apart from login
tokens: a sharing token never opens a session and a session never reads as a department.

A request goes :meth:`SharingService.authenticate` (401: unknown token) →
:func:`hub.sharing.scope.check` (403 with the reason) → the rate limit (429) →
:meth:`SharingService.read`, which answers from published cells only (k-anonymity,
:mod:`hub.sharing.kanon`). The router audits every one of these outcomes.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from contract.event_settings import SiteEvent
from contract.sharing_settings import SharingSettings
from contract.siteconfig import Area
from hub.clock import Clock
from hub.sharing import formats
from hub.sharing.index_dataset import IndexSource, index_rows, months_within
from hub.sharing.kanon import Cell, last_closed_hour, suppress
from hub.sharing.occupancy_dataset import (
    Series,
    occupancy_csv,
    occupancy_rows,
    occupancy_sensorthings,
)
from hub.sharing.ratelimit import SlidingWindowLimiter
from hub.sharing.scope import COUNT_DATASETS, Dataset, Department, Grant, GrantRequest, Refused
from hub.storage.sqlite.sharing import SqliteSharingRepository

TOKEN_PREFIX = "vws_"
DEFAULT_PERIOD = timedelta(days=7)
#: The hub holds nothing outside these; times near the calendar's ends would overflow.
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
LATEST = datetime(2200, 1, 1, tzinfo=UTC)


def _in_calendar(*moments: datetime) -> bool:
    return all(EARLIEST <= m <= LATEST for m in moments)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _on_the_hour(moment: datetime) -> bool:
    return moment.minute == moment.second == moment.microsecond == 0


@dataclass(frozen=True)
class Period:
    start: datetime
    end: datetime


class SharingService:
    """Issues and checks tokens; reads datasets. ``areas`` are the site file's areas."""

    def __init__(
        self,
        repo: SqliteSharingRepository,
        areas: list[Area],
        settings: SharingSettings,
        clock: Clock,
        timezone: str = "UTC",
        index_source: IndexSource | None = None,
        events: Callable[[], tuple[list[SiteEvent], Series] | None] | None = None,
    ) -> None:
        """``events``: the site's events and their stored series, for the occupancy
        dataset (None, or a None answer: this hub keeps no events)."""
        self.repo = repo
        self.areas = {a.id: a for a in areas}
        self.settings = settings
        self.clock = clock
        self.timezone = timezone
        self.index_source = index_source  # None: the safety index is not offered
        self.events = events
        self.limiter = SlidingWindowLimiter()

    # -- the register (admin) ----------------------------------------------------------

    def add_account(self, name: str, department: Department, contact: str | None, by: str) -> dict:
        row = {
            "id": uuid.uuid4().hex[:16],
            "name": name,
            "department": department.value,
            "contact": contact,
            "created_by": by,
            "created_at": self.clock().isoformat(),
        }
        self.repo.add_account(row)
        return row

    def issue(self, request: GrantRequest, by: str) -> tuple[str, Grant]:
        """A new token for ``request`` (ValueError says what is wrong with it). The token
        is returned once; only its hash is stored."""
        now = self.clock()
        if not _in_calendar(request.data_from, request.data_until, request.expires_at):
            raise ValueError(f"times must lie within {EARLIEST.year}..{LATEST.year - 1}")
        # In UTC: cells are UTC clock hours, so "on the hour" is checked in UTC too.
        request = request.model_copy(
            update={
                name: getattr(request, name).astimezone(UTC)
                for name in ("data_from", "data_until", "expires_at")
            }
        )
        self._validate(request, now)
        grant = Grant(
            id=uuid.uuid4().hex[:16],
            account_id=request.account_id,
            agreement=request.agreement,
            datasets=tuple(dict.fromkeys(request.datasets)),
            areas=tuple(dict.fromkeys(request.areas)),
            data_from=request.data_from,
            data_until=request.data_until,
            expires_at=request.expires_at,
            rate_per_min=request.rate_per_min or self.settings.default_rate_per_min,
            created_by=by,
            created_at=now,
        )
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        self.repo.add_grant(grant, token_hash(token))
        return token, grant

    def _validate(self, request: GrantRequest, now: datetime) -> None:
        if self.repo.account(request.account_id) is None:
            raise ValueError(f"no department account {request.account_id!r}")
        unknown = sorted(set(request.areas) - set(self.areas))
        if unknown:
            raise ValueError(f"unknown area(s): {', '.join(unknown)}")
        if not request.data_from < request.data_until:
            raise ValueError("data_from must be before data_until")
        if not (_on_the_hour(request.data_from) and _on_the_hour(request.data_until)):
            raise ValueError("data_from and data_until must be on the hour (cells are hours)")
        if not now < request.expires_at <= now + timedelta(days=self.settings.max_token_days):
            raise ValueError(f"expires_at must be within {self.settings.max_token_days} days")
        rate = request.rate_per_min or self.settings.default_rate_per_min
        if rate > self.settings.max_rate_per_min:
            raise ValueError(f"rate_per_min is at most {self.settings.max_rate_per_min}")

    def revoke(self, grant_id: str, by: str) -> bool:
        done = self.repo.revoke(grant_id, by, self.clock())
        self.limiter.forget(grant_id)
        return done

    def register(self) -> dict:
        """Who receives what, under which agreement, until when, and each token's last use."""
        now = self.clock()
        grants = [
            g.model_dump(mode="json")
            | {
                "status": "revoked"
                if g.revoked_at
                else "expired"
                if now >= g.expires_at
                else "live"
            }
            for g in self.repo.grants()
        ]
        return {"accounts": self.repo.accounts(), "tokens": grants, "k": self.settings.k}

    # -- a department's request --------------------------------------------------------

    def authenticate(self, token: str | None) -> Grant:
        """The grant behind a bearer token, or Refused(401)."""
        grant = None
        if token and token.startswith(TOKEN_PREFIX):
            grant = self.repo.grant_by_hash(token_hash(token))
        if grant is None:
            raise Refused(401, "not a data-sharing token")
        return grant

    def admit(self, grant: Grant) -> None:
        """Count one request against the token's rate limit (Refused 429 past it) and
        record its use for the register."""
        now = self.clock()
        wait = self.limiter.allow(grant.id, grant.rate_per_min, now)
        if wait:
            raise Refused(429, f"over {grant.rate_per_min} requests a minute", wait)
        self.repo.used(grant.id, now)

    def period(self, grant: Grant | None, start: datetime | None, end: datetime | None) -> Period:
        """[start, end) to serve: defaults inside the grant, whole hours, closed hours only.
        ValueError for a period that cannot be served (a 422)."""
        if not _in_calendar(*(m for m in (start, end) if m is not None)):
            raise ValueError(f"times must lie within {EARLIEST.year}..{LATEST.year - 1}")
        latest = last_closed_hour(self.clock())
        end = end or min(latest, grant.data_until if grant else latest)
        if start is None:
            start = max(end - DEFAULT_PERIOD, grant.data_from) if grant else end - DEFAULT_PERIOD
        if not (_on_the_hour(start) and _on_the_hour(end)):
            raise ValueError("start and end must be on the hour: cells are clock hours")
        if not start < end:
            raise ValueError("start must be before end")
        if end - start > timedelta(days=self.settings.max_query_days):
            raise ValueError(f"at most {self.settings.max_query_days} days per request")
        return Period(start, end)

    def served(self, period: Period) -> Period:
        """``period`` without the hours not yet over: a cell is published once, when its
        hour has ended, so nobody watches a live count cross k."""
        return Period(
            period.start, max(period.start, min(period.end, last_closed_hour(self.clock())))
        )

    def cells(self, dataset: Dataset, period: Period, areas: list[str]) -> list[Cell]:
        """The published cells (count >= k) of a count dataset."""
        period = self.served(period)
        if period.start >= period.end:
            return []
        raw = self.repo.hourly_counts(dataset, period.start, period.end, areas, self.settings.k)
        return suppress(raw, self.settings.k)

    def read(self, dataset: Dataset, period: Period, areas: list[str], fmt: str) -> object:
        """The dataset in ``fmt`` (json, csv, sensorthings, geojson); ValueError if that
        dataset has no such format."""
        if dataset == Dataset.AREAS:
            if fmt not in ("geojson", "json"):
                raise ValueError("areas come as geojson")
            return formats.areas_geojson([self.areas[a] for a in areas])
        if dataset == Dataset.SAFETY_INDEX:
            return self._index(period, areas, fmt)
        if dataset == Dataset.OCCUPANCY:
            return self._occupancy(period, areas, fmt)
        if dataset == Dataset.HOT_SPOTS:
            published = self.cells(Dataset.INCIDENT_COUNTS, period, areas)
            spots = formats.hot_spots(published, self.timezone)
            if fmt == "geojson":
                return formats.hot_spots_geojson(spots, self.areas)
            if fmt == "json":
                return {"dataset": dataset.value, **self.meta(period, areas), "hot_spots": spots}
            raise ValueError("hot spots come as json or geojson")
        assert dataset in COUNT_DATASETS
        published = self.cells(dataset, period, areas)
        if fmt == "csv":
            return formats.cells_csv(published)
        if fmt == "sensorthings":
            return formats.sensorthings(dataset.value, published, self.areas)
        if fmt == "json":
            return formats.cells_json(dataset.value, published, self.meta(period, areas))
        raise ValueError("counts come as json, csv or sensorthings")

    def _index(self, period: Period, areas: list[str], fmt: str) -> object:
        if self.index_source is None:
            raise ValueError("this hub does not compute the safety index")
        served = self.served(period)
        months = months_within(served.start, served.end, self.timezone)
        rows = index_rows(self.index_source, months, areas, set(self.areas), self.settings.k)
        if fmt == "csv":
            lines = ["month,area,index", *(f"{r['month']},{r['area']},{r['index']}" for r in rows)]
            return "\n".join(lines) + "\n"
        if fmt == "json":
            return {"dataset": Dataset.SAFETY_INDEX.value, **self.meta(period, areas), "rows": rows}
        raise ValueError("the safety index comes as json or csv")

    def _occupancy(self, period: Period, areas: list[str], fmt: str) -> object:
        found = self.events() if self.events else None
        served = self.served(period)
        rows = []
        if found is not None and served.start < served.end:
            events, series = found
            k = self.settings.k
            rows = occupancy_rows(
                events, series, served.start, served.end, areas, set(self.areas), k
            )
        if fmt == "csv":
            return occupancy_csv(rows)
        if fmt == "sensorthings":
            return occupancy_sensorthings(rows)
        if fmt == "json":
            return {"dataset": Dataset.OCCUPANCY.value, **self.meta(period, areas), "rows": rows}
        raise ValueError("occupancy comes as json, csv or sensorthings")

    def meta(self, period: Period, areas: list[str]) -> dict:
        period = self.served(period)
        return {
            "period": {"start": period.start.isoformat(), "end": period.end.isoformat()},
            "areas": areas,
            "k": self.settings.k,
            "note": (
                f"cells with fewer than {self.settings.k} events (including none) are not "
                "listed; totals are sums of listed cells only"
            ),
        }
