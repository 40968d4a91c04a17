"""Cursors of paged lists (HTTP `?cursor=`, `bookit bookings --after`): the sort key of the last
row a page held, opaque to the caller (base64url of the key's JSON). A row sorts after the cursor
or before it, so it is on exactly one page even while rows are added."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from typing import Any


def encode(key: Sequence[Any]) -> str:
    text = json.dumps(list(key), separators=(",", ":"))
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def decode(cursor: str) -> list[Any]:
    """The key a cursor holds; ValueError for anything `encode` did not write."""
    try:
        key = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        key = None
    if not isinstance(key, list) or not all(isinstance(part, str | int) for part in key):
        raise ValueError("not a cursor BookIT gave")
    return key
