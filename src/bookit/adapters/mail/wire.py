"""An email's bytes, written straight from its headers and parts, as the stdlib would write them.

Building an `EmailMessage` and flattening it costs several times what rendering its templates
does: every header is parsed into an object and folded again, every part is assembled, and the
generator compiles a regular expression per message to check its boundary. BookIT's emails all
have one shape (headers, then a multipart/alternative of text parts), so `render` writes that
shape directly, with the stdlib's own pieces where a byte could differ: each header is folded by
the policy (memoised for values that repeat, like From), except a short plain one (a Message-ID,
a Date, a plain address or subject) that the policy would write back as it is, on one line, and
the Content-Type, folded once for every boundary of the generator's shape; each body is encoded as
`set_content` encodes it (7bit, quoted-printable or base64, chosen by its rules; qp.py),
and each part's own headers are taken from a part the stdlib built once for that combination.
Whatever `render` does not cover (a body that contains the boundary, an encoding it does not
know) returns None, and the caller builds the message the stdlib way. tests/unit/test_email_wire.py compares
the two byte for byte.

`ComposedEmail` is an `EmailMessage` that carries those bytes and builds its parsed structure
only if someone asks for it (a test reading a header, an SMTP transport flattening it again):
the Maildir just writes the bytes.
"""

from __future__ import annotations

import email.utils
import functools
import random
import re
import sys
from collections.abc import Callable, Sequence
from email.headerregistry import (
    Address,
    AddressHeader,
    DateHeader,
    HeaderRegistry,
    MessageIDHeader,
    UnstructuredHeader,
)
from email.message import EmailMessage
from email.policy import EmailPolicy
from email.policy import default as default_policy
from typing import Any

from bookit.adapters.mail import qp

Header = tuple[str, Any]  # (name, value as assigned: text, or an Address)
Part = tuple[str, str, tuple[tuple[str, str], ...]]  # (text subtype, body, Content-Type params)
# 8bit bodies come back as text with their non-ASCII bytes escaped as surrogates; the stdlib
# writes those bytes back as they were.
_ENCODINGS = frozenset({"7bit", "8bit", "quoted-printable", "base64"})


def render(
    policy: EmailPolicy[Any], headers: Sequence[Header], parts: Sequence[Part]
) -> tuple[bytes, str] | None:
    """(the message's bytes, its boundary), or None where only the stdlib knows the bytes."""
    encoded = []
    for subtype, body, params in parts:
        cte, data = qp.encode_text(body, policy)
        if cte not in _ENCODINGS:
            return None
        encoded.append((subtype, params, cte, data))
    # The generator's boundary: fifteen '=', nineteen random digits, '=='. It would look for
    # another if a body had a line starting with it; that is left to the stdlib.
    boundary = "=" * 15 + f"{random.randrange(sys.maxsize):019d}" + "=="
    if any(boundary in data for *_, data in encoded):
        return None
    out = [_fold(policy, name, value) for name, value in headers]
    out.append(_fold(policy, "MIME-Version", "1.0"))
    out.append(_content_type(policy, boundary))
    out.append(b"\n")
    delimiter = b"--" + boundary.encode("ascii")
    for n, (subtype, params, cte, data) in enumerate(encoded):
        out.append(delimiter + b"\n" if n == 0 else b"\n" + delimiter + b"\n")
        out.append(_part_head(policy, n == 0, subtype, params, cte))
        out.append(b"\n")
        out.append(data.encode("ascii", "surrogateescape"))
    out.append(b"\n" + delimiter + b"--\n")
    return b"".join(out), boundary


def _fold(policy: EmailPolicy[Any], name: str, value: Any) -> bytes:
    """The header's line(s) as the policy folds them."""
    if isinstance(value, str):
        plain = _as_is(policy, name, value)
        return plain if plain is not None else _folded(policy, name, value)
    if type(value) is Address:
        # The policy parses an address it is given as the text it writes for it.
        plain = _as_is(policy, name, str(value))
        if plain is not None:
            return plain
    name, header = policy.header_store_parse(name, value)
    return policy.fold_binary(name, header)


# Text the stdlib's header parsers give back unchanged: printable ASCII words with one space
# between them, none of the characters its parsers read specially (quotes, comments, escapes)
# and no encoded word ("=?", checked apart). An address or a Message-ID must also be a plain
# dot-atom `local@domain`, which every address parser takes whole.
_PLAIN = re.compile(r"[!#-'*-\[\]-~]+(?: [!#-'*-\[\]-~]+)*")
_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_ADDR_SPEC = re.compile(rf"{_ATOM}(?:\.{_ATOM})*@{_ATOM}(?:\.{_ATOM})*")
_MSG_ID = re.compile(rf"<{_ADDR_SPEC.pattern}>")
_NAME_ADDR = re.compile(rf"{_ATOM}(?: {_ATOM})* {_MSG_ID.pattern}")  # Ann Smith <ann@example.com>
_NAME = re.compile(r"[!-9;-~]+")  # a header name: printable ASCII but the colon (RFC 5322)


def _as_is(policy: EmailPolicy[Any], name: str, value: str) -> bytes | None:
    """`name: value` on one line, where the policy would write exactly that (its parser gives
    the value back as it was and the line fits); None where only the stdlib knows.
    tests/unit/test_email_wire.py holds this to the policy's own fold."""
    maxlen = policy.max_line_length or sys.maxsize
    if len(name) + 2 + len(value) > maxlen or "=?" in value or not _PLAIN.fullmatch(value):
        return None
    kind = _kind_of(policy, name)
    if kind == "address":
        ok = _ADDR_SPEC.fullmatch(value) is not None or _NAME_ADDR.fullmatch(value) is not None
    elif kind == "msg-id":
        ok = _MSG_ID.fullmatch(value) is not None
    elif kind == "date":
        # The policy writes a Date as it reads it back: only a date already in that form stays.
        ok = _date_as_written(value) == value
    else:
        ok = kind == "text"
    return f"{name}: {value}{policy.linesep}".encode("ascii") if ok else None


@functools.lru_cache(maxsize=256)
def _kind_of(policy: EmailPolicy[Any], name: str) -> str:
    """What the policy parses a header of this name as (its registry's class)."""
    factory = policy.header_factory
    if not isinstance(factory, HeaderRegistry) or not _NAME.fullmatch(name):
        return "other"
    header_class = factory[name]
    for kind, base in (
        ("address", AddressHeader),
        ("msg-id", MessageIDHeader),
        ("date", DateHeader),
        ("text", UnstructuredHeader),
    ):
        if issubclass(header_class, base):
            return kind
    return "other"


@functools.lru_cache(maxsize=64)  # one Date for every email of a batch: sent at its `now`
def _date_as_written(value: str) -> str | None:
    try:
        return email.utils.format_datetime(email.utils.parsedate_to_datetime(value))
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


@functools.lru_cache(maxsize=4096)
def _folded(policy: EmailPolicy[Any], name: str, value: str) -> bytes:
    name, header = policy.header_store_parse(name, value)
    return policy.fold_binary(name, header)


# A boundary is always this shape (the generator's: fifteen '=', nineteen digits, '=='), so its
# Content-Type folds the same whatever the digits: folded once, the digits put in after.
_MASK = "=" * 15 + "0" * 19 + "=="


def _content_type(policy: EmailPolicy[Any], boundary: str) -> bytes:
    value = f'multipart/alternative; boundary="{boundary}"'
    template = _folded(policy, "Content-Type", f'multipart/alternative; boundary="{_MASK}"')
    digits = boundary[15:-2]
    if boundary != _MASK[:15] + digits + "==" or len(digits) != 19 or not digits.isdigit():
        return policy.fold_binary(*policy.header_store_parse("Content-Type", value))
    return template.replace(_MASK.encode(), boundary.encode("ascii"))


@functools.lru_cache(maxsize=64)
def _part_head(
    policy: EmailPolicy[Any], first: bool, subtype: str, params: tuple[tuple[str, str], ...], cte: str
) -> bytes:
    """A part's own header lines, from a part the stdlib builds the same way. The first part was
    the message's own content before `add_alternative` moved it, so it has no MIME-Version."""
    part = EmailMessage(policy=policy)
    part.set_content("x\n", subtype=subtype, cte=cte, params=dict(params) or None)
    if first:
        del part["MIME-Version"]
    return b"".join(policy.fold_binary(name, value) for name, value in part.raw_items())


class ComposedEmail(EmailMessage):
    """An email whose bytes are known; its parsed structure is built on first use."""

    def __init__(
        self,
        policy: EmailPolicy[Any],
        headers: Sequence[Header],
        data: bytes,
        build: Callable[[], EmailMessage],
    ) -> None:
        # Not EmailMessage.__init__: the state it would set up is what `build` makes, if needed.
        self.policy = policy
        self._lazy = (tuple(headers), data, build)

    def __getattr__(self, name: str) -> Any:
        # Only called for what the instance lacks: the message's state, before it is built.
        lazy = self.__dict__.pop("_lazy", None)
        if lazy is None or name.startswith("__"):
            if lazy is not None:
                self._lazy = lazy
            raise AttributeError(name)
        self.__dict__.update(vars(lazy[2]()))
        return getattr(self, name)

    def get(self, name: str, failobj: Any = None) -> Any:
        lazy = self.__dict__.get("_lazy")
        if lazy is None or name.lower() in ("mime-version", "content-type"):
            return super().get(name, failobj)
        for key, value in lazy[0]:
            if key.lower() == name.lower():
                return self.policy.header_store_parse(key, value)[1]
        return failobj

    def as_bytes(self, unixfrom: bool = False, policy: Any = None) -> bytes:
        lazy = self.__dict__.get("_lazy")
        if lazy is not None and not unixfrom and policy in (None, self.policy, default_policy):
            return bytes(lazy[1])
        return super().as_bytes(unixfrom, policy)


def named_address(policy: EmailPolicy[Any], name: str, display_name: str, addr_spec: str) -> Any:
    """The value for header `name` of `display_name <addr_spec>`: as text where the policy
    writes and reads it back as it is (plain words, a plain address), which spares building
    (and validating) an Address; else the Address."""
    text = f"{display_name} <{addr_spec}>"
    if _as_is(policy, name, text) is not None:
        return text
    return Address(display_name=display_name, addr_spec=addr_spec)


def composed(
    policy: EmailPolicy[Any],
    headers: Sequence[Header],
    parts: Sequence[Part],
    build: Callable[[], EmailMessage],
) -> EmailMessage:
    """The email `build` would make, as a ComposedEmail where `render` knows its bytes."""
    rendered = render(policy, headers, parts)
    if rendered is None:
        return build()
    data, boundary = rendered

    def structure() -> EmailMessage:
        message = build()
        message.set_boundary(boundary)  # so that flattening it again gives the same bytes
        return message

    return ComposedEmail(policy, headers, data, structure)
