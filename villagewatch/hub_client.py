"""A small client for the hub's HTTP API, for the demo's scripted people and devices.

The demo's duty officer, patrols and trackers go through the same HTTP API as the officer
app and real devices do, so the hub authenticates, checks roles and audits them the same
way. The standard library's ``urllib`` is enough here (a few JSON calls a second); the
project's HTTP client library (httpx) is a test dependency only.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from typing import Any


class HubError(Exception):
    """The hub answered with an error status; ``status`` and the hub's ``detail``."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(f"{status}: {detail}")
        self.status = status
        self.detail = detail


class HubClient:
    """JSON over HTTP with a bearer session token (after :meth:`login`)."""

    def __init__(self, base_url: str, timeout: float = 10.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.token: str | None = None
        self.username: str | None = None

    def login(self, username: str, password: str) -> HubClient:
        answer = self.post("/api/login", {"username": username, "password": password})
        self.token, self.username = answer["token"], username
        return self

    def get(self, path: str, params: dict[str, Any] | None = None) -> Any:
        if params:
            path += "?" + urllib.parse.urlencode(params)
        return self.request("GET", path)

    def post(self, path: str, body: dict[str, Any] | None = None) -> Any:
        return self.request("POST", path, body)

    def request(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        """The answer's JSON; :class:`HubError` for an error status, ``OSError`` when the
        hub cannot be reached."""
        headers = {"accept": "application/json"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["content-type"] = "application/json"
        if self.token:
            headers["authorization"] = f"Bearer {self.token}"
        request = urllib.request.Request(self.base_url + path, data, headers, method=method)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return json.loads(response.read() or b"null")
        except urllib.error.HTTPError as exc:
            try:
                detail = json.loads(exc.read()).get("detail", exc.reason)
            except (ValueError, AttributeError):
                detail = exc.reason
            raise HubError(exc.code, str(detail)) from None
