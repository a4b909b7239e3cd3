"""The site's own certificate authority and the server certificates it signs.

A village site has no public domain name, so a public CA cannot vouch for its broker or hub.
Instead ``villagewatch provision --tls`` makes a small *site CA* (a self-signed EC P-256
certificate, its key kept 0600 on the broker machine) and uses it to sign a server
certificate naming the broker's and hub's addresses. Every node's connection file carries
the CA certificate (public), and a node trusts exactly that CA: a device on the LAN posing
as the broker cannot present a certificate the CA signed, so the node refuses it.

Sites that already have certificates (their own CA, or a public one for a hub reachable by
name) pass them in instead; :func:`check_server_files` verifies they fit together before
anything is started with them.

Used by the broker (mosquitto's TLS listener), by the hub (HTTPS) and by nodes
(:func:`client_ssl_context`). Only the ``cryptography`` package and the standard library.
"""

from __future__ import annotations

import ipaddress
import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from contract.files import write_durably

#: A site CA outlives many server certificates; rotate it by provisioning nodes again.
CA_DAYS = 10 * 365
#: Server certificates are re-issued by provisioning again; 825 days is what browsers accept.
SERVER_DAYS = 825
#: File names inside a TLS folder (``<broker data_dir>/tls`` by default).
CA_CERT, CA_KEY, SERVER_CERT, SERVER_KEY = "ca.pem", "ca.key", "server.pem", "server.key"
#: Certificates are public: nodes get the CA, clients the server chain. Keys are 0600.
PUBLIC_MODE = 0o644


class CertificateError(ValueError):
    """Certificates that cannot be used; ``str()`` says which file and why."""


@dataclass(frozen=True)
class SiteCa:
    """The site CA's certificate and private key files."""

    cert: Path
    key: Path

    def load(self) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
        cert = _read_cert(self.cert)
        key = serialization.load_pem_private_key(self.key.read_bytes(), password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey) or not _same_key(cert, key):
            raise CertificateError(f"{self.key}: not the private key of {self.cert}")
        return cert, key


@dataclass(frozen=True)
class ServerTls:
    """What a TLS server needs: the CA to hand to clients, its certificate and its key."""

    ca: Path
    cert: Path
    key: Path

    def ca_pem(self) -> str:
        return self.ca.read_text()

    def names(self) -> list[str]:
        """The DNS names and IP addresses the certificate is valid for."""
        return certificate_names(_read_cert(self.cert))


def load_or_create_site_ca(folder: Path, site: str, now: datetime | None = None) -> SiteCa:
    """The CA in ``folder`` (``ca.pem`` + ``ca.key``), made on first use."""
    ca = SiteCa(Path(folder) / CA_CERT, Path(folder) / CA_KEY)
    if ca.cert.exists() and ca.key.exists():
        ca.load()  # fail now, with the file name, rather than at the first handshake
        return ca
    if ca.cert.exists() or ca.key.exists():
        raise CertificateError(
            f"{folder}: has only one of {CA_CERT} and {CA_KEY}; remove it to make a new CA"
        )
    now = now or datetime.now(UTC)
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "VillageWatch"),
            x509.NameAttribute(NameOID.COMMON_NAME, f"VillageWatch site CA {site}"),
        ]
    )
    cert = (
        _builder(name, name, key.public_key(), now, CA_DAYS)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(key, hashes.SHA256())
    )
    _write_key(ca.key, key)
    write_durably(ca.cert, cert.public_bytes(serialization.Encoding.PEM), PUBLIC_MODE)
    return ca


def issue_server_certificate(
    ca: SiteCa,
    folder: Path,
    names: Sequence[str],
    now: datetime | None = None,
    stem: str = "server",
) -> ServerTls:
    """Sign a server certificate for ``names`` (DNS names and/or IP addresses) with the CA.

    Writes ``<stem>.pem`` (the certificate followed by the CA, a full chain) and
    ``<stem>.key`` (0600) in ``folder``, replacing earlier ones.
    """
    if not names:
        raise CertificateError("a server certificate needs at least one host name or address")
    ca_cert, ca_key = ca.load()
    now = now or datetime.now(UTC)
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "VillageWatch"),
            x509.NameAttribute(NameOID.COMMON_NAME, names[0][:64]),
        ]
    )
    cert = (
        _builder(subject, ca_cert.subject, key.public_key(), now, SERVER_DAYS)
        .add_extension(x509.SubjectAlternativeName(_general_names(names)), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    folder = Path(folder)
    tls = ServerTls(ca.cert, folder / f"{stem}.pem", folder / f"{stem}.key")
    _write_key(tls.key, key)
    chain = cert.public_bytes(serialization.Encoding.PEM) + ca.cert.read_bytes()
    write_durably(tls.cert, chain, PUBLIC_MODE)
    return tls


def check_server_files(
    ca: Path,
    cert: Path,
    key: Path,
    names: Sequence[str] = (),
    now: datetime | None = None,
) -> ServerTls:
    """Certificates a site already has: check that ``key`` belongs to ``cert``, that ``ca``
    signed it, that it is valid now and covers ``names``. Raises CertificateError."""
    tls = ServerTls(Path(ca), Path(cert), Path(key))
    ca_cert, leaf = _read_cert(tls.ca), _read_cert(tls.cert)
    try:
        private = serialization.load_pem_private_key(tls.key.read_bytes(), password=None)
    except (ValueError, TypeError) as exc:
        raise CertificateError(f"{tls.key}: not an unencrypted PEM private key ({exc})") from None
    if not _same_key(leaf, private):
        raise CertificateError(f"{tls.key}: not the private key of {tls.cert}")
    try:
        leaf.verify_directly_issued_by(ca_cert)
    except (ValueError, TypeError, InvalidSignature):
        raise CertificateError(f"{tls.cert}: not signed by the CA in {tls.ca}") from None
    now = now or datetime.now(UTC)
    if not leaf.not_valid_before_utc <= now <= leaf.not_valid_after_utc:
        raise CertificateError(
            f"{tls.cert}: valid only from {leaf.not_valid_before_utc:%Y-%m-%d} "
            f"to {leaf.not_valid_after_utc:%Y-%m-%d}"
        )
    missing = [n for n in names if not covers(leaf, n)]
    if missing:
        raise CertificateError(
            f"{tls.cert}: does not name {', '.join(missing)} "
            f"(it names {', '.join(certificate_names(leaf)) or 'nothing'})"
        )
    return tls


def certificate_names(cert: x509.Certificate) -> list[str]:
    """DNS names and IP addresses in the certificate's subjectAltName."""
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return []
    dns = san.get_values_for_type(x509.DNSName)
    ips = [str(ip) for ip in san.get_values_for_type(x509.IPAddress)]
    return [*dns, *ips]


def covers(cert: x509.Certificate, name: str) -> bool:
    """Whether a client dialling ``name`` accepts ``cert`` (exact names; ``*.`` one level)."""
    wanted = name.lower()
    for have in certificate_names(cert):
        have = have.lower()
        if have == wanted:
            return True
        if have.startswith("*.") and wanted.split(".", 1)[-1] == have[2:] and "." in wanted:
            return True
    return False


def client_ssl_context(ca: str | Path) -> ssl.SSLContext:
    """A client context trusting only ``ca`` (PEM text or a file), checking host names."""
    ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_verify_locations(**_ca_source(ca))
    return ctx


def server_ssl_context(tls: ServerTls) -> ssl.SSLContext:
    """A server context presenting ``tls.cert`` (TLS 1.2 or newer)."""
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(tls.cert, tls.key)
    return ctx


def is_pem(text: str) -> bool:
    return "-----BEGIN CERTIFICATE-----" in text


# --- helpers ----------------------------------------------------------------------------------


def _ca_source(ca: str | Path) -> dict[str, str]:
    if isinstance(ca, str) and is_pem(ca):
        return {"cadata": ca}
    return {"cafile": str(ca)}


def _builder(
    subject: x509.Name, issuer: x509.Name, public_key, now: datetime, days: int
) -> x509.CertificateBuilder:
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        # An hour of slack: a node whose clock is a little behind still accepts it.
        .not_valid_before(now - timedelta(hours=1))
        .not_valid_after(now + timedelta(days=days))
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
    )


def _general_names(names: Sequence[str]) -> list[x509.GeneralName]:
    out: list[x509.GeneralName] = []
    for name in names:
        try:
            out.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            out.append(x509.DNSName(name))
    return out


def _read_cert(path: Path) -> x509.Certificate:
    try:
        return x509.load_pem_x509_certificate(Path(path).read_bytes())
    except FileNotFoundError:
        raise CertificateError(f"{path}: certificate file not found") from None
    except ValueError:
        raise CertificateError(f"{path}: not a PEM certificate") from None


def _same_key(cert: x509.Certificate, key) -> bool:
    def spki(k) -> bytes:
        return k.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    return spki(cert.public_key()) == spki(key.public_key())


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    write_durably(path, pem)  # 0600 from the first byte
