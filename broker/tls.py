"""The broker's TLS files for a site: the site's own certificates, or ones we make.

``broker.tls_port`` turns TLS on. With ``tls_ca``/``tls_cert``/``tls_key`` in the site file,
those files are checked (:func:`contract.certificates.check_server_files`) and used as they
are. Otherwise the site CA in ``<broker data_dir>/tls`` is made once and signs a server
certificate naming the broker's address, ``tls_names`` and the loopback names; it is issued
again when a name is added or it nears its end. The CA itself never changes by itself, so
connection files handed out earlier stay valid.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509

from contract.certificates import (
    SERVER_CERT,
    SERVER_KEY,
    CertificateError,
    ServerTls,
    check_server_files,
    issue_server_certificate,
    load_or_create_site_ca,
)
from contract.files import DIR_MODE, private_dir
from contract.hosts import ALL_INTERFACES
from contract.siteconfig import SiteConfig

#: Re-issue the generated server certificate when it has less than this left.
RENEW_BEFORE = timedelta(days=30)


def tls_folder(config: SiteConfig) -> Path:
    return config.resolve(config.broker.data_dir) / "tls"


def server_names(config: SiteConfig) -> list[str]:
    """What nodes and the hub may dial: ``tls_names``, the listen addresses (unless all
    interfaces) and the loopback names, without repeats."""
    b = config.broker
    listen = [h for h in (b.tls_host, b.host, b.hub_host) if h and h not in ALL_INTERFACES]
    names = [*b.tls_names, *listen]
    names += ["localhost", "127.0.0.1"]
    return list(dict.fromkeys(names))


def site_tls(config: SiteConfig, now: datetime | None = None) -> ServerTls | None:
    """The broker's TLS files, or None when ``broker.tls_port`` is 0 (no TLS listener).

    Raises :class:`~contract.certificates.CertificateError` when given files do not fit.
    """
    b = config.broker
    if not b.tls_port:
        return None
    if b.tls_ca and b.tls_cert and b.tls_key:
        return check_server_files(
            config.resolve(b.tls_ca),
            config.resolve(b.tls_cert),
            config.resolve(b.tls_key),
            b.tls_names,
            now,
        )
    return generated_tls(config, now)


def generated_tls(config: SiteConfig, now: datetime | None = None) -> ServerTls:
    """The site CA and a current server certificate in :func:`tls_folder`, made as needed."""
    folder = tls_folder(config)
    private_dir(folder).chmod(DIR_MODE)  # holds the keys: owner only, even if it existed
    now = now or datetime.now(UTC)
    ca = load_or_create_site_ca(folder, config.site.id, now)
    names = server_names(config)
    current = ServerTls(ca.cert, folder / SERVER_CERT, folder / SERVER_KEY)
    try:
        check_server_files(current.ca, current.cert, current.key, names, now)  # names too
        leaf = x509.load_pem_x509_certificate(current.cert.read_bytes())
        if leaf.not_valid_after_utc - now > RENEW_BEFORE:
            return current
    except (CertificateError, FileNotFoundError):
        pass  # missing, for other names, or signed by a CA since replaced: issue a new one
    return issue_server_certificate(ca, folder, names, now)
