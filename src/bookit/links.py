"""Signed links for the buttons in emails (Confirm, Cancel, Claim, Decline, Check in).

A token binds (action, subject id) and an expiry, signed with HMAC-SHA256 under a secret that
never leaves the server. Changing any part breaks the signature, so a token cannot be forged,
pointed at another booking or action, or stretched past its expiry.

A token names nobody: links end up in proxy, scanner and analytics logs, so what anyone can read
in one is an action, an opaque id and an instant. Whose booking or entry it is comes from the
record when the link is used (the link pages act as its owner). Tokens from before this, which
also carried the owner's address, still read until they expire; that address is ignored.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import string
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import quote

from bookit.errors import BadInput, Refused

ACTIONS = ("confirm", "cancel", "claim", "decline", "check-in")
APP_URL_FIELDS = frozenset({"venue_id", "date", "booking_id"})


def app_url_template(template: str) -> str:
    """`BOOKIT_APP_URL`, checked: an http(s) URL whose only fields are {venue_id}, {date} and
    {booking_id}. Raises ValueError naming the variable."""
    if not template.startswith(("http://", "https://")):
        raise ValueError(f"BOOKIT_APP_URL={template[:60]!r}: give an http:// or https:// URL")
    try:
        fields = {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}
    except ValueError as error:
        raise ValueError(f"BOOKIT_APP_URL={template[:60]!r}: {error}") from None
    unknown = fields - APP_URL_FIELDS
    if unknown:
        raise ValueError(
            f"BOOKIT_APP_URL: unknown field {{{sorted(unknown)[0]}}}; it may use {{venue_id}}, {{date}},"
            " {booking_id}"
        )
    return template


@dataclass(frozen=True)
class Link:
    action: str
    subject_id: str
    expires_at: datetime


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class LinkSigner:
    def __init__(self, secret: bytes, base_url: str, app_url: str = "") -> None:
        if len(secret) < 16:
            raise ValueError("link secret must be at least 16 bytes")
        self._secret = secret
        self.base_url = base_url.rstrip("/")
        self.app_url = app_url_template(app_url) if app_url else ""

    def venue_url(self, venue_id: str, date: str, booking_id: str = "") -> str:
        """Where to look for a free time and book: the app in front of BookIT (`BOOKIT_APP_URL`)
        or, without one, the venue page `bookit run` serves (a day's availability)."""
        if self.app_url:
            return self.app_url.format(venue_id=quote(venue_id), date=date, booking_id=booking_id)
        return f"{self.base_url}/venues/{quote(venue_id)}?date={date}"

    def token(self, link: Link) -> str:
        if link.action not in ACTIONS:
            raise ValueError(f"unknown link action {link.action!r}")
        body = json.dumps(
            [link.action, link.subject_id, int(link.expires_at.timestamp())], separators=(",", ":")
        ).encode()
        return f"{_b64(body)}.{_b64(self._sign(body))}"

    def url(self, link: Link) -> str:
        return f"{self.base_url}/l/{self.token(link)}"

    def read(self, token: str, now: datetime) -> Link:
        """The link a token stands for; refused if tampered with or expired."""
        try:
            body_part, signature_part = token.split(".")
            body, signature = _unb64(body_part), _unb64(signature_part)
        except ValueError:
            raise BadInput("this link is malformed", "bad_link") from None
        if not hmac.compare_digest(signature, self._sign(body)):
            raise BadInput("this link is not valid (it may have been altered)", "bad_link")
        fields = json.loads(body)
        if len(fields) == 4:
            del fields[2]  # an older token's address: the record says whose it is
        action, subject_id, expires = fields
        link = Link(action, subject_id, datetime.fromtimestamp(expires, UTC))
        if now >= link.expires_at:
            raise Refused(f"this link expired at {link.expires_at:%Y-%m-%d %H:%M} UTC", "link_expired")
        return link

    def _sign(self, body: bytes) -> bytes:
        return hmac.new(self._secret, body, hashlib.sha256).digest()
