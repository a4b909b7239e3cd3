"""Why did an RTSP camera refuse us? One ``DESCRIBE`` request to find out.

OpenCV's FFmpeg backend reports a failed open only as ``isOpened() == False``: a wrong
password, a wrong path and a camera that is off all look the same (FFmpeg prints the RTSP
status to stderr, where the program cannot read it). The difference matters: a camera that is
off comes back by itself, so the source retries soon; a wrong password never fixes itself,
and many cameras lock the account after a handful of failed logins, so the source must wait
long between tries and say plainly that the credentials are wrong.

So after a failed open, :func:`describe_status` asks the camera once, the way every RTSP
client starts (RFC 2326 section 10.2): ``DESCRIBE`` without credentials, and on ``401`` again
with them, Basic or Digest (RFC 2617) as the camera's challenge asks. It returns the final
status code. Hand-written because no library in the project speaks RTSP: OpenCV and FFmpeg
hide the status, and GStreamer's client is not in the edge's dependencies.
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
import socket
from urllib.parse import unquote, urlsplit, urlunsplit

#: RTSP status codes worth a specific message.
UNAUTHORIZED = 401
NOT_FOUND = 404


def describe_status(url: str, timeout: float = 5.0) -> int | None:
    """The RTSP status of ``DESCRIBE url`` (with the URL's credentials), or None when the
    camera cannot be reached or does not answer in RTSP."""
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("rtsp", "rtsps") or not parts.hostname:
        return None
    if parts.scheme.lower() == "rtsps":
        return None  # TLS: not probed; the generic message applies
    user, password = unquote(parts.username or ""), unquote(parts.password or "")
    netloc = parts.hostname if parts.port is None else f"{parts.hostname}:{parts.port}"
    bare = urlunsplit((parts.scheme, netloc, parts.path or "/", parts.query, ""))
    try:
        with socket.create_connection((parts.hostname, parts.port or 554), timeout) as sock:
            status, headers = _request(sock, bare, 1, None)
            if status == UNAUTHORIZED and user:
                auth = _authorization(headers.get("www-authenticate", []), user, password, bare)
                if auth is not None:
                    status, _ = _request(sock, bare, 2, auth)
            return status
    except (OSError, ValueError):
        return None


def _request(
    sock: socket.socket, url: str, cseq: int, auth: str | None
) -> tuple[int, dict[str, list[str]]]:
    lines = [f"DESCRIBE {url} RTSP/1.0", f"CSeq: {cseq}", "Accept: application/sdp"]
    if auth:
        lines.append(f"Authorization: {auth}")
    sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(4096)
        if not chunk or len(data) > 65536:
            raise ValueError("no RTSP reply")
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    match = re.match(r"RTSP/\d\.\d (\d{3})", status_line)
    if not match:
        raise ValueError(f"not an RTSP reply: {status_line[:40]!r}")
    headers: dict[str, list[str]] = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        headers.setdefault(name.strip().lower(), []).append(value.strip())
    # Read the body too, so that a second request on this connection starts clean.
    length = int(headers.get("content-length", ["0"])[0] or 0)
    while len(body) < length:
        chunk = sock.recv(length - len(body))
        if not chunk:
            break
        body += chunk
    return int(match.group(1)), headers


def _authorization(challenges: list[str], user: str, password: str, url: str) -> str | None:
    """The Authorization header answering the camera's strongest challenge."""
    digest = next((c for c in challenges if c.lower().startswith("digest")), None)
    if digest is not None:
        params = dict(re.findall(r'(\w+)="?([^",]*)"?', digest[len("digest") :]))
        realm, nonce = params.get("realm", ""), params.get("nonce", "")
        ha1 = _md5(f"{user}:{realm}:{password}")
        ha2 = _md5(f"DESCRIBE:{url}")
        header = f'Digest username="{user}", realm="{realm}", nonce="{nonce}", uri="{url}"'
        if "auth" in params.get("qop", "").split(","):
            cnonce = secrets.token_hex(8)
            response = _md5(f"{ha1}:{nonce}:00000001:{cnonce}:auth:{ha2}")
            header += f', qop=auth, nc=00000001, cnonce="{cnonce}"'
        else:
            response = _md5(f"{ha1}:{nonce}:{ha2}")
        if "opaque" in params:
            header += f', opaque="{params["opaque"]}"'
        return f'{header}, response="{response}"'
    if any(c.lower().startswith("basic") for c in challenges):
        return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
    return None


def _md5(text: str) -> str:
    return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()
