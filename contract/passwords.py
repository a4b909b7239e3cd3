"""One password hash for every identity: broker nodes and hub users.

PBKDF2-HMAC-SHA512 written in mosquitto's ``$7$iterations$salt$hash`` format, so the broker's
password file and the hub's user table share one function. The cost travels in the string:
the broker writes mosquitto's own default (101 iterations; node passwords are 144 random
bits, so guessing is hopeless anyway), the hub writes OWASP's 210,000 for passwords people
type.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os

#: OWASP's 2023 figure for PBKDF2-HMAC-SHA512; about 80 ms per check on the test machine.
USER_ITERATIONS = 210_000
#: mosquitto_passwd's default: what mosquitto itself writes for a ``$7$`` hash.
MOSQUITTO_ITERATIONS = 101
_SALT_BYTES = 12


def hash_password(
    password: str, iterations: int = USER_ITERATIONS, salt: bytes | None = None
) -> str:
    salt = salt if salt is not None else os.urandom(_SALT_BYTES)
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, iterations)
    b64 = base64.b64encode
    return f"$7${iterations}${b64(salt).decode()}${b64(digest).decode()}"


def verify_password(password: str, encoded: str) -> bool:
    """Constant-time check of ``password`` against a :func:`hash_password` string."""
    try:
        _, seven, iterations, salt_b64, digest_b64 = encoded.split("$")
        if seven != "7" or not 1 <= int(iterations) <= 10_000_000:
            return False
        salt, expected = base64.b64decode(salt_b64), base64.b64decode(digest_b64)
    except (ValueError, TypeError):
        return False
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, int(iterations))
    return hmac.compare_digest(digest, expected)
