"""Listen addresses in the site file: which face only this machine, and which to dial.

The broker, its TLS certificate, provisioning and the hub's web server all ask the same
questions of a ``host`` setting, so the answers live here once.
"""

from __future__ import annotations

import ipaddress

#: Listen addresses meaning "every interface": nothing can dial them as they are.
ALL_INTERFACES = frozenset({"", "0.0.0.0", "::"})


def is_loopback(host: str) -> bool:
    """Whether ``host`` is a loopback address (127.0.0.0/8, ::1 or localhost)."""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def dialable(host: str) -> str:
    """An address to connect to for a listener bound to ``host`` (this machine's loopback
    for an all-interfaces listener)."""
    if host in ALL_INTERFACES:
        return "::1" if host == "::" else "127.0.0.1"
    return host
