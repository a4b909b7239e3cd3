"""The site CA and its server certificates, checked with real TLS handshakes on loopback."""

from __future__ import annotations

import socket
import ssl
import stat
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from contract.certificates import (
    CertificateError,
    ServerTls,
    check_server_files,
    client_ssl_context,
    issue_server_certificate,
    load_or_create_site_ca,
    server_ssl_context,
)

NAMES = ["localhost", "127.0.0.1"]


def handshake(tls: ServerTls, ca: str | Path, server_name: str = "127.0.0.1") -> None:
    """One TLS handshake between a real server socket and a client trusting ``ca``."""
    server_ctx = server_ssl_context(tls)
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]

        def serve() -> None:
            conn, _ = listener.accept()
            try:
                with server_ctx.wrap_socket(conn, server_side=True) as tls_conn:
                    tls_conn.recv(1)
            except (ssl.SSLError, OSError):
                pass

        thread = threading.Thread(target=serve, daemon=True)
        thread.start()
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
                client = client_ssl_context(ca)
                with client.wrap_socket(raw, server_hostname=server_name):
                    pass
        finally:
            thread.join(5)


def test_site_ca_signs_a_server_certificate_a_client_with_that_ca_accepts(tmp_path: Path) -> None:
    ca = load_or_create_site_ca(tmp_path / "tls", "riverside")
    tls = issue_server_certificate(ca, tmp_path / "tls", NAMES)
    assert stat.S_IMODE(ca.key.stat().st_mode) == 0o600
    assert stat.S_IMODE(tls.key.stat().st_mode) == 0o600
    assert tls.names() == NAMES
    handshake(tls, tls.ca)  # the CA as a file
    handshake(tls, tls.ca_pem(), server_name="localhost")  # and as PEM text


def test_the_ca_is_made_once_and_reused(tmp_path: Path) -> None:
    first = load_or_create_site_ca(tmp_path, "riverside")
    pem = first.cert.read_bytes()
    again = load_or_create_site_ca(tmp_path, "riverside")
    assert again.cert.read_bytes() == pem


def test_a_client_trusting_another_ca_refuses_the_server(tmp_path: Path) -> None:
    ours = load_or_create_site_ca(tmp_path / "a", "a")
    tls = issue_server_certificate(ours, tmp_path / "a", NAMES)
    other = load_or_create_site_ca(tmp_path / "b", "b")
    with pytest.raises(ssl.SSLCertVerificationError):
        handshake(tls, other.cert)


def test_a_client_dialling_a_name_the_certificate_lacks_refuses_it(tmp_path: Path) -> None:
    ca = load_or_create_site_ca(tmp_path, "riverside")
    tls = issue_server_certificate(ca, tmp_path, ["broker.riverside.lan"])
    with pytest.raises(ssl.SSLCertVerificationError):
        handshake(tls, tls.ca, server_name="127.0.0.1")


def test_existing_certificates_are_checked_before_use(tmp_path: Path) -> None:
    ca = load_or_create_site_ca(tmp_path / "site", "riverside")
    tls = issue_server_certificate(ca, tmp_path / "site", NAMES)
    assert check_server_files(tls.ca, tls.cert, tls.key, ["127.0.0.1"]) == tls

    stranger = load_or_create_site_ca(tmp_path / "other", "other")
    with pytest.raises(CertificateError, match="not signed by the CA"):
        check_server_files(stranger.cert, tls.cert, tls.key)
    with pytest.raises(CertificateError, match="not the private key"):
        check_server_files(tls.ca, tls.cert, stranger.key)
    with pytest.raises(CertificateError, match=r"does not name 10\.0\.0\.9"):
        check_server_files(tls.ca, tls.cert, tls.key, ["10.0.0.9"])
    later = datetime.now(UTC) + timedelta(days=900)
    with pytest.raises(CertificateError, match="valid only from"):
        check_server_files(tls.ca, tls.cert, tls.key, now=later)
    with pytest.raises(CertificateError, match="certificate file not found"):
        check_server_files(tmp_path / "missing.pem", tls.cert, tls.key)
