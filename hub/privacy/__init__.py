"""The hub's privacy duties: subject requests, the hash-chained audit log, retention per kind,
and what the privacy page and the sign notice say."""
