"""Watchlists on the hub: plates and faces, with the lawful-use guardrails built in.

Read in this order:

* :mod:`hub.watchlist.domain` — refusals, plate keys, the face model's interface;
* :mod:`hub.watchlist.vault` — enrolment photos and match crops, encrypted at rest;
* :mod:`hub.watchlist.service` — authorisations, plate and face entries, expiry;
* :mod:`hub.watchlist.updates` / :mod:`hub.watchlist.publisher` — what each gateway is
  sent (retained, QoS 1) and sending it;
* :mod:`hub.watchlist.ingest` — watchlist alerts at ingest (plate hits, face candidates,
  plate reads);
* :mod:`hub.watchlist.candidates` — two-officer verification before any action;
* :mod:`hub.watchlist.subjects` — subject access and erasure over these tables and files;
* :mod:`hub.watchlist.bundle` — all of it wired together for :class:`hub.service.HubService`.
"""
