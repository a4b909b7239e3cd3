"""HTTPS for the hub: given a certificate and key (the site file's ``hub.tls_cert`` and
``hub.tls_key``, or ``--tls-cert``/``--tls-key``), ``villagewatch hub`` serves only HTTPS,
its session cookie is ``Secure`` and every answer carries ``Strict-Transport-Security``.
Certificates come from the site CA (contract/certificates.py), as ``provision`` makes them;
a client trusting another CA is refused. Without a certificate the hub stays plain HTTP
(the loopback demo), with neither of those."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from hub_helpers import serve_api
from hub_process import start_hub_process, write_site_file

from contract.certificates import (
    ServerTls,
    client_ssl_context,
    issue_server_certificate,
    load_or_create_site_ca,
)


@pytest.fixture(scope="module")
def tls(tmp_path_factory) -> ServerTls:
    folder = tmp_path_factory.mktemp("tls")
    ca = load_or_create_site_ca(folder, "riverside")
    return issue_server_certificate(ca, folder, ["127.0.0.1", "localhost"])


def assert_https_only(url: str, tls: ServerTls, password: str, stranger_ca: Path) -> None:
    assert url.startswith("https://127.0.0.1:")
    client = httpx.Client(base_url=url, verify=client_ssl_context(tls.ca), timeout=10)
    with client:
        # As the officer page sends it: its own https origin passes the login CSRF check.
        signed_in = client.post(
            "/api/login",
            json={"username": "admin", "password": password},
            headers={"Origin": url.rstrip("/")},
        )
        assert signed_in.status_code == 200, signed_in.text
        cookie = signed_in.headers["set-cookie"].lower()
        assert "; secure" in cookie and "httponly" in cookie and "samesite=strict" in cookie
        for response in (signed_in, client.get("/api/me"), client.get("/")):
            assert response.headers["strict-transport-security"] == "max-age=31536000"
        # The same host over plain http is another origin.
        plain_origin = {"Origin": url.rstrip("/").replace("https://", "http://")}
        crossed = client.post(
            "/api/login", json={"username": "admin", "password": password}, headers=plain_origin
        )
        assert crossed.status_code == 403
    # A client that trusts another CA (a device posing as the hub would be the same) fails.
    with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
        httpx.get(url + "api/health", verify=client_ssl_context(stranger_ca))
    # Plain HTTP on the same port gets no answer at all.
    with pytest.raises(httpx.HTTPError):
        httpx.get(url.replace("https://", "http://") + "api/health", timeout=5)


@pytest.fixture(scope="module")
def stranger_ca(tmp_path_factory) -> Path:
    return load_or_create_site_ca(tmp_path_factory.mktemp("other-ca"), "elsewhere").cert


def test_the_hub_serves_https_with_secure_cookies_and_hsts_from_the_site_file(
    tmp_path: Path, tls, stranger_ca
):
    write_site_file(tmp_path, tls_cert=str(tls.cert), tls_key=str(tls.key))
    hub = start_hub_process(tmp_path)
    try:
        assert_https_only(hub.url, tls, hub.admin_password, stranger_ca)
    finally:
        assert hub.stop() == 0


def test_command_line_flags_turn_https_on_too(tmp_path: Path, tls, stranger_ca):
    flags = ("--tls-cert", str(tls.cert), "--tls-key", str(tls.key))
    hub = start_hub_process(tmp_path, args=flags)
    try:
        assert_https_only(hub.url, tls, hub.admin_password, stranger_ca)
    finally:
        hub.stop()


def test_plain_http_on_loopback_has_neither_secure_cookies_nor_hsts(tmp_path: Path):
    hub = serve_api(tmp_path / "hub")
    try:
        assert hub.url.startswith("http://127.0.0.1:")
        client = hub.client()
        signed_in = client.post(
            "/api/login", json={"username": "viewer", "password": hub.passwords["viewer"]}
        )
        assert signed_in.status_code == 200
        assert "secure" not in signed_in.headers["set-cookie"].lower()
        assert "strict-transport-security" not in signed_in.headers
    finally:
        hub.close()
