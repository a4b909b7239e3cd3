"""The monthly report as one printable HTML file (print it, or "Save as PDF" in a browser).

Hand-written with :func:`html.escape` rather than a template library: the page is a handful
of fixed tables, and a template engine would be a new dependency for forty lines. Every value
from the database goes through :func:`esc`. The style sheet is inside the file so the report
stays whole when mailed or copied to a USB stick; it has print rules (A4, no tables split
across pages, the header repeated). No scripts, no images from anywhere: it opens offline.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from html import escape

from hub.incidents.timings import PeriodFigures
from hub.safety.index import PlaceIndex
from hub.safety.report import MonthlyReport

CSS = """
body { font: 11pt/1.4 "DejaVu Sans", Arial, sans-serif; color: #111; margin: 2em; }
h1 { font-size: 18pt; margin: 0 0 .2em; } h2 { font-size: 13pt; margin: 1.4em 0 .4em; }
table { border-collapse: collapse; width: 100%; margin: .4em 0; }
th, td { border: 1px solid #999; padding: .2em .4em; text-align: right; }
th:first-child, td:first-child { text-align: left; }
thead { background: #eee; display: table-header-group; }
.note { border-left: 4px solid #555; padding: .3em .8em; background: #f4f4f4; }
.up { color: #0a6a2a; } .down { color: #a01010; } .small { font-size: 9pt; color: #444; }
@page { size: A4; margin: 15mm; }
@media print {
  body { margin: 0; } table, .note { break-inside: avoid; } h2 { break-after: avoid; }
}
"""


def esc(value: object) -> str:
    return escape("" if value is None else str(value))


def number(value: float | None, digits: int = 1) -> str:
    return "&ndash;" if value is None else f"{value:,.{digits}f}"


def signed(value: float | None) -> str:
    """A change, coloured: a higher index is better."""
    if value is None:
        return "&ndash;"
    css = "up" if value > 0 else "down" if value < 0 else ""
    return f'<span class="{css}">{value:+.1f}</span>'


def table(head: Sequence[str], rows: Iterable[Sequence[str]], caption: str = "") -> str:
    """Cells are HTML already (callers escape what came from data)."""
    cap = f"<caption>{esc(caption)}</caption>" if caption else ""
    th = "".join(f"<th scope='col'>{h}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table>{cap}<thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>"


def index_rows(places: Sequence[PlaceIndex]) -> list[list[str]]:
    rows = []
    for p in places:
        c = p.current.components
        households = f"{c.households:,}" + (" (assumed)" if c.households_assumed else "")
        excluded = c.excluded
        rows.append([
            esc(p.name), f"<b>{number(p.index)}</b>", signed(p.change), str(c.counted),
            number(c.weighted), households, number(c.rate_per_1000), number(c.incident_score),
            number(c.response_score), str(excluded["false_alarm"]), str(excluded["cancelled"]),
            str(excluded["duplicate"]),
        ])  # fmt: skip
    return rows


def trend_table(places: Sequence[PlaceIndex]) -> str:
    months = [m for m, _ in places[0].series]
    rows = [[esc(p.name), *(number(v) for _, v in p.series)] for p in places]
    return table(["place", *map(esc, months)], rows)


def response_rows(now: PeriodFigures, before: PeriodFigures) -> list[list[str]]:
    rows = []
    for seg, old in zip(now.segments, before.segments, strict=True):
        rows.append([
            esc(seg.label), str(seg.count), number(seg.p50_s, 0), number(seg.p90_s, 0),
            number(old.p50_s, 0), number(old.p90_s, 0),
        ])  # fmt: skip
    rows.append([
        "alert → on scene (mean)", str(now.arrivals), number(now.mean_alert_to_arrival_s, 0),
        "", number(before.mean_alert_to_arrival_s, 0), "",
    ])  # fmt: skip
    return rows


def render(report: MonthlyReport) -> str:
    """The whole report as an HTML document."""
    idx = report.index
    places = [idx.site, *idx.areas]
    s = idx.settings
    index_head = ["place", "index", "change", "counted", "weight W", "households H",
                  "rate r /1,000", "incident I", "response P", "false alarms", "cancelled",
                  "duplicates"]  # fmt: skip
    kinds = [[esc(k.kind), number(k.weight), str(k.this_month), str(k.last_month)]
             for k in report.kinds]  # fmt: skip
    spots = [[esc(h.name), esc(h.day), f"{h.hour:02d}:00&ndash;{h.hour + 1:02d}:00",
              str(h.incidents), number(h.weighted)] for h in report.places.hotspots]  # fmt: skip
    areas = sorted(report.places.areas, key=lambda a: (-a.weighted, a.name))
    top = [[esc(a.name), str(a.incidents), number(a.weighted)] for a in areas if a.incidents]
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>{esc(report.site)}: safety report {esc(report.month)}</title>
<style>{CSS}</style></head>
<body>
<header><h1>{esc(report.site)} — monthly safety report, {esc(report.month)}</h1>
<p class="small">For the police station and the residents' committee. Generated
{esc(report.generated_at.isoformat(timespec="minutes"))}; times are {esc(idx.timezone)}.</p>
<p class="note">{esc(idx.note)}</p></header>
<section id="index"><h2>Safety index (0&ndash;100, higher is safer)</h2>
{table(index_head, index_rows(places))}
<p class="small">Formula: {esc(idx.formula)}. index = {1 - s.response_weight:.2f} · smoothed I
+ {s.response_weight:.2f} · smoothed P; I = 100 / (1 + r / {s.rate_reference:g});
P: 100 points for arrival within {s.response_target_s} s, 0 from {s.response_limit_s} s;
smoothing {s.smoothing:g} per month. False alarms, cancelled incidents and duplicates
count zero.</p></section>
<section id="trend"><h2>Trend</h2>{trend_table(places)}
{table(["kind", "weight", "this month", "last month"], kinds, "counted incidents by kind")}
</section>
<section id="response"><h2>Response times (seconds)</h2>
<p class="small">Every security incident opened in the month, as on the hub's Response times
page: a unit sent to what proved a false alarm was still sent. The index's response component
counts only counted incidents.</p>
{
        table(
            ["segment", "incidents", "p50", "p90", "p50 last month", "p90 last month"],
            response_rows(report.response, report.response_last_month),
        )
    }
</section>
<section id="places"><h2>Top places and hours</h2>
<p class="small">The {report.places.weeks} weeks to the end of the month.
Where and when patrols were most needed.</p>
{table(["area", "counted incidents", "weight"], top, "by area")}
{table(["area", "day", "hour", "incidents", "weight"], spots, "by area and hour of the week")}
</section>
</body></html>
"""
