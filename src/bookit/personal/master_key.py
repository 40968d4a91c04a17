"""The master key that wraps every person's key, and the two keys derived from it.

It comes from `BOOKIT_MASTER_KEY` (32 bytes as 64 hex digits or URL-safe base64), or, on the
embedded default, from `BOOKIT_HOME/master-key`, made on first run with a line that says to back
it up apart from the stores. On PostgreSQL there is no file: a fleet of processes must share one
key, so it is configured. Losing it makes every person's data unreadable; see the README.
"""

from __future__ import annotations

import base64
import binascii
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

MASTER_KEY_ENV = "BOOKIT_MASTER_KEY"
MASTER_KEY_FILE = "master-key"
KEY_BYTES = 32
FILE_NOTE = (
    "# BookIT master key. Back this file up apart from BOOKIT_HOME's stores and their backups, "
    "and keep it secret: without it no person's data can be read again."
)


class MasterKeyError(ValueError):
    """The master key is missing or malformed; the message says which and how to fix it."""


@dataclass(frozen=True)
class MasterKey:
    """Never used directly: one key wraps persons' keys, another keys the look-up hash."""

    secret: bytes

    def derive(self, purpose: str) -> bytes:
        return HKDF(
            algorithm=hashes.SHA256(), length=KEY_BYTES, salt=None, info=f"bookit/{purpose}".encode()
        ).derive(self.secret)


def parse_master_key(text: str) -> MasterKey:
    """64 hex digits, or URL-safe base64 of 32 bytes (padding optional)."""
    text = text.strip()
    raw: bytes | None = None
    try:
        raw = bytes.fromhex(text) if len(text) == 2 * KEY_BYTES else None
    except ValueError:
        raw = None
    if raw is None:
        try:
            raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        except (binascii.Error, ValueError):
            raw = None
    if raw is None or len(raw) != KEY_BYTES:
        raise MasterKeyError(
            f"{MASTER_KEY_ENV} must be {KEY_BYTES} random bytes as {2 * KEY_BYTES} hex digits or "
            f"URL-safe base64 (make one with: python -c 'import secrets; print(secrets.token_hex(32))')"
        )
    return MasterKey(raw)


def load_master_key(home: Path, store: str, env: dict[str, str] | None = None) -> MasterKey:
    """The configured key, else (embedded store only) the one in `home`, made if absent."""
    configured = (os.environ if env is None else env).get(MASTER_KEY_ENV, "").strip()
    if configured:
        return parse_master_key(configured)
    if store != "sqlite":
        raise MasterKeyError(
            f"{MASTER_KEY_ENV} is not set: a store on a server needs the master key configured, "
            "the same in every process (and kept apart from the database's backups)"
        )
    path = home / MASTER_KEY_FILE
    if not path.exists():
        _make_key_file(path)
    lines = [line for line in path.read_text().splitlines() if line and not line.startswith("#")]
    if len(lines) != 1:
        raise MasterKeyError(f"{path} must hold one key line (and comment lines starting with #)")
    return parse_master_key(lines[0])


def _make_key_file(path: Path) -> None:
    """Written whole under another name and linked into place: two processes starting at once
    end up with the same key, never half a file or two keys."""
    path.parent.mkdir(parents=True, exist_ok=True)
    draft = path.with_name(f".{path.name}.{secrets.token_hex(8)}")
    fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(f"{FILE_NOTE}\n{secrets.token_hex(KEY_BYTES)}\n")
        out.flush()
        os.fsync(out.fileno())
    try:
        os.link(draft, path)
    except FileExistsError:
        pass  # another process made it first: theirs is the key
    finally:
        draft.unlink()
