"""Sharing aggregate data with other departments (issue 12).

Departments — urban management, traffic, fire, the residents' committee — get *accounts*
and, under a written agreement, *scoped tokens* (:mod:`hub.sharing.scope`): which datasets,
which areas, which period of data, an expiry and a rate limit. What leaves is aggregates
only: counts per area, hour and kind with small cells suppressed (:mod:`hub.sharing.kanon`),
hot spots computed from those published cells, and the areas' outlines; as JSON, CSV,
OGC SensorThings API observations or GeoJSON (:mod:`hub.sharing.formats`). Snapshots, faces,
plates and positions have no path out: the counts are computed inside SQLite
(:mod:`hub.storage.sqlite.sharing`) and no row holding them is read here.

The admin's register page shows who receives what, under which agreement, until when, and
each token's last use; a token is revoked there. See docs/data-sharing.md.
"""
