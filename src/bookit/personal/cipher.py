"""Seal and open a person's values (address, name, free text) under their own key.

AES-256-GCM from `cryptography`, never a cipher of our own: a fresh 96-bit nonce per value, and
the person and the event type as associated data, so a sealed value moved to another person or
another kind of event fails to open instead of reading as theirs. A sealed value is text that
JSON, SQL and the event store carry as they are: `p1.` then URL-safe base64 of nonce and
ciphertext. A value whose person's key is destroyed opens as `<erased>`: everything that reads
history (aggregates, read models, `history`, `check`, `whatif`) goes on working.
"""

from __future__ import annotations

import base64
import binascii
import os

from cryptography.exceptions import InvalidTag

from bookit.personal.keys import NONCE_BYTES, KeyStore

ERASED = "<erased>"
PREFIX = "p1."


class NotSealed(ValueError):
    """A value that should be sealed is not, or was altered: the store has been tampered with
    or mixed up, which is never treated as an erasure."""


def is_sealed(value: object) -> bool:
    return isinstance(value, str) and value.startswith(PREFIX)


class PersonCipher:
    def __init__(self, keys: KeyStore) -> None:
        self.keys = keys

    def seal(self, person_id: str, event_type: str, text: str) -> str:
        cipher = self.keys.cipher_of(person_id)
        if cipher is None:
            raise LookupError(f"person {person_id} has no key (erased): nothing can be sealed for them")
        nonce = os.urandom(NONCE_BYTES)
        sealed = cipher.encrypt(nonce, text.encode(), _context(person_id, event_type))
        return PREFIX + base64.urlsafe_b64encode(nonce + sealed).rstrip(b"=").decode()

    def open(self, person_id: str, event_type: str, value: str) -> str:
        """The plain text, or `<erased>` once the person's key is destroyed."""
        if not is_sealed(value):
            raise NotSealed(f"a {event_type} value of person {person_id} is not sealed")
        cipher = self.keys.cipher_of(person_id)
        if cipher is None:
            return ERASED
        body = value[len(PREFIX) :]
        try:
            raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
            return cipher.decrypt(
                raw[:NONCE_BYTES], raw[NONCE_BYTES:], _context(person_id, event_type)
            ).decode()
        except (binascii.Error, ValueError, InvalidTag) as error:
            raise NotSealed(
                f"a {event_type} value of person {person_id} does not open under their key "
                "(altered, or sealed for another person or event)"
            ) from error


def _context(person_id: str, event_type: str) -> bytes:
    """The associated data: who the value belongs to and which kind of event carries it."""
    return f"bookit/{person_id}/{event_type}".encode()
