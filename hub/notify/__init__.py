"""Notifications: who is told about an incident, on which channel, and whether it arrived.

* :mod:`hub.notify.base` — the :class:`Notifier` interface (one ``send(message, target)``).
* :mod:`hub.notify.apprise_notifier`, :mod:`hub.notify.webpush` — the two channels.
* :mod:`hub.notify.registry` — the list of notifiers.
* :mod:`hub.notify.service` — the queue: enqueue, deliver with retries, the worker thread.
"""
