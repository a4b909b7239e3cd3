"""Encrypted files for the watchlist: enrolment photos and face-match crops.

Faces are sensitive personal data (PIPL Art. 28), so their pictures are never on disk in
the clear. Each file is sealed with :class:`cryptography.fernet.Fernet` (AES-128-CBC with an
HMAC-SHA256: authenticated, so a tampered file is refused, not shown). The key is one file,
``<data_dir>/watchlist/vault.key``, mode 0600, made on first use: there is no default key,
and a copy of the database and the picture folder without the key shows no face.

Deleting a row deletes its file through :meth:`PhotoVault.delete`; the folder holds nothing
a row does not name.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

FOLDER = "watchlist"
KEY_FILE = "vault.key"


class VaultError(Exception):
    """A picture is missing or does not decrypt with this hub's key."""


class PhotoVault:
    """Sealed picture files under ``<data_dir>/watchlist/<kind>/``; names are relative to
    ``data_dir`` (what the rows store)."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = Path(data_dir)
        self.folder = self.data_dir / FOLDER
        self._fernet: Fernet | None = None

    def _key(self) -> Fernet:
        if self._fernet is None:
            self.folder.mkdir(parents=True, exist_ok=True)
            os.chmod(self.folder, 0o700)
            path = self.folder / KEY_FILE
            try:  # O_EXCL: two first uses never make two keys
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:
                key = path.read_bytes().strip()
            else:
                key = Fernet.generate_key()
                with os.fdopen(fd, "wb") as out:
                    out.write(key)
            self._fernet = Fernet(key)
        return self._fernet

    def seal(self, kind: str, data: bytes) -> str:
        """Encrypt ``data`` into a new file of ``kind`` ("photos", "crops"); returns its
        name relative to the data folder."""
        token = self._key().encrypt(data)
        folder = self.folder / kind
        folder.mkdir(parents=True, exist_ok=True)
        name = f"{secrets.token_hex(16)}.sealed"
        path = folder / name
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(token)
            out.flush()
            os.fsync(out.fileno())
        return str(path.relative_to(self.data_dir))

    def open(self, name: str) -> bytes:
        path = self._path(name)
        try:
            return self._key().decrypt(path.read_bytes())
        except FileNotFoundError:
            raise VaultError(f"{name} is gone") from None
        except InvalidToken:
            raise VaultError(f"{name} does not decrypt with this hub's key") from None

    def delete(self, name: str | None) -> None:
        if name:
            self._path(name).unlink(missing_ok=True)

    def files(self) -> list[Path]:
        """Every sealed file (tests, the orphan check)."""
        return sorted(self.folder.rglob("*.sealed")) if self.folder.exists() else []

    def sweep(self, named: set[str], older_than: float) -> int:
        """Delete sealed files no row names, last written before ``older_than`` (epoch
        seconds): a file sealed just before a commit that never happened. Returns how many."""
        gone = 0
        for path in self.files():
            name = str(path.relative_to(self.data_dir))
            if name not in named and path.stat().st_mtime < older_than:
                path.unlink(missing_ok=True)
                gone += 1
        return gone

    def _path(self, name: str) -> Path:
        path = (self.data_dir / name).resolve()
        if self.folder.resolve() not in path.parents:
            raise VaultError(f"{name} is not a watchlist file")
        return path
