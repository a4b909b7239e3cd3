"""Where the hub keeps things.

:mod:`hub.storage.repositories` says *what* can be stored and asked, one small interface per
aggregate (alerts, incidents, nodes, users, audit, quarantine, notifications), and
:class:`~hub.storage.repositories.Storage` bundles one of each. :mod:`hub.storage.sqlite`
implements them on one SQLite file through sqlite-utils. SQL lives only in that package, so
a PostgreSQL backend is a second package with the same classes, not a rewrite.
"""
