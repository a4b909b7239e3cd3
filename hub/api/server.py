"""Run an ASGI app with uvicorn on a background thread, on a port we bound ourselves.

Binding the socket before uvicorn starts means ``port=0`` works (the kernel picks a free
port) and :attr:`WebServer.port` is the real one as soon as :meth:`start` returns.

With a certificate and key (``tls``) it serves HTTPS; the app then marks cookies ``Secure``
and sends ``Strict-Transport-Security``. Without, it serves plain HTTP and says so: fine on
loopback (the demo), a warning on any other address, where passwords would cross the
network readable by anyone on it.
"""

from __future__ import annotations

import logging
import socket
import ssl
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import uvicorn

from contract.hosts import is_loopback

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TlsFiles:
    """A PEM certificate (chain) and its private key, for HTTPS."""

    cert: Path
    key: Path

    def check(self) -> None:
        """Fail now, naming the files, rather than in uvicorn's thread."""
        try:
            ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER).load_cert_chain(self.cert, self.key)
        except (OSError, ssl.SSLError) as exc:
            raise ValueError(f"HTTPS certificate {self.cert} / key {self.key}: {exc}") from None


class WebServer:
    def __init__(
        self, app, host: str = "127.0.0.1", port: int = 0, tls: TlsFiles | None = None
    ) -> None:
        self.app = app
        self.host = host
        self.requested_port = port
        self.tls = tls
        self.port: int | None = None
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        scheme = "https" if self.tls else "http"
        return f"{scheme}://{host}:{self.port}/"

    def start(self, timeout: float = 10.0) -> None:
        if self.tls:
            self.tls.check()
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        # IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY only on sockets made that way;
        # without it every small response waits ~40 ms for the client's delayed ACK.
        sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self.requested_port))
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(
            self.app,
            log_level="warning",
            access_log=False,
            lifespan="off",
            # Open SSE streams would otherwise hold shutdown forever.
            timeout_graceful_shutdown=1,
            ssl_certfile=str(self.tls.cert) if self.tls else None,
            ssl_keyfile=str(self.tls.key) if self.tls else None,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run,
            kwargs={"sockets": [sock]},
            name=f"http-{self.port}",
            daemon=True,
        )
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"web server did not start on {self.host}:{self.port}")
            time.sleep(0.02)
        if self.tls:
            log.info("officer page and API on %s (HTTPS)", self.url)
        elif is_loopback(self.host):
            log.info("officer page and API on %s: plain HTTP, loopback only (demo)", self.url)
        else:
            log.warning(
                "officer page and API on %s in PLAIN HTTP: passwords and sessions cross the "
                "network unencrypted; set hub.tls_cert and hub.tls_key",
                self.url,
            )

    def stop(self, timeout: float = 5.0) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout)
        self._server = self._thread = None
