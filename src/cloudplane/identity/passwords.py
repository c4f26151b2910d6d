"""Password hashing with argon2id; the cost is set once at start-up from the settings."""

from __future__ import annotations

import hashlib

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError


class PasswordHashing:
    """Hashes and verifies passwords with one argon2id cost profile."""

    def __init__(self, *, time_cost: int = 3, memory_kib: int = 65536) -> None:
        self._hasher = PasswordHasher(time_cost=time_cost, memory_cost=memory_kib)
        # Verified against when the user does not exist, so a wrong username costs as much
        # time as a wrong password and timing does not reveal which users exist.
        self._dummy_hash = self._hasher.hash("cloudplane-no-such-user")

    def hash(self, password: str) -> str:
        return self._hasher.hash(password)

    def verify(self, password_hash: str | None, password: str) -> bool:
        """True when ``password`` matches; always spends one argon2 verification."""
        try:
            matched = self._hasher.verify(password_hash or self._dummy_hash, password)
        except (VerificationError, InvalidHashError):
            return False
        return matched and password_hash is not None


def credential_fingerprint(password_hash: str) -> str:
    """A short, stable mark of one password setting, carried in tokens.

    Every hash has its own salt, so the mark changes whenever the password is set, even to the
    same password: tokens issued before that no longer match. It reveals nothing usable about
    the password (a digest of a salted argon2 hash).
    """
    return hashlib.sha256(password_hash.encode()).hexdigest()[:32]
