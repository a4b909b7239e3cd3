"""Photos attached to incidents: only JPEG and PNG, told apart by their bytes, not their name.

A browser's ``Content-Type`` and a file name are claims; the first bytes of the file are
what an image viewer will act on, so those decide (the "magic numbers" of each format).
"""

from __future__ import annotations

import re

from hub.incidents.errors import AttachmentTooLarge, UnsupportedAttachment

MAX_ATTACHMENT_BYTES = 5 * 1024 * 1024
_MAGIC = {
    "image/jpeg": b"\xff\xd8\xff",  # SOI marker then the first segment's marker
    "image/png": b"\x89PNG\r\n\x1a\n",  # the 8-byte PNG signature
}
_DEFAULT_NAME = {"image/jpeg": "photo.jpg", "image/png": "photo.png"}
_UNSAFE = re.compile(r"[^A-Za-z0-9._ -]+")


def sniff(data: bytes) -> str | None:
    """``image/jpeg`` or ``image/png`` from the file's first bytes, else None."""
    for content_type, magic in _MAGIC.items():
        if data.startswith(magic):
            return content_type
    return None


def checked_image(data: bytes, declared: str | None = None) -> str:
    """The content type of an acceptable photo; raises if too large, not an image, or not
    the type the sender declared."""
    if len(data) > MAX_ATTACHMENT_BYTES:
        raise AttachmentTooLarge(f"photos are at most {MAX_ATTACHMENT_BYTES // 2**20} MiB")
    actual = sniff(data)
    if actual is None:
        raise UnsupportedAttachment("only JPEG and PNG photos can be attached")
    if declared is not None and declared != actual:
        raise UnsupportedAttachment(f"the file is {actual}, not {declared}")
    return actual


def safe_filename(name: str | None, content_type: str) -> str:
    """A name fit for display and a download header: no folders, no control characters, no
    quotes, at most 100 characters. It is only a label: files are stored under our names."""
    base = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    base = _UNSAFE.sub("_", base).strip(" ._")[:100]
    return base or _DEFAULT_NAME[content_type]
