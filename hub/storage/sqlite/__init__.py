"""The SQLite implementation of every hub repository (:func:`open_sqlite_storage`)."""
