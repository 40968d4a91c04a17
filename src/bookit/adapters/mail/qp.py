"""A body's Content-Transfer-Encoding and encoded text, as `set_content` makes them, faster.

The stdlib quotes a quoted-printable body with `str.translate` over a table of 256 strings, a
Python-level step per character: for an HTML email (long lines, so not 8bit) that was the
largest single cost of writing it. Here the characters to quote are found by one regular
expression and the lines are cut by the same rules (RFC 2045: at most 76 characters with the
soft break, never inside an escape, a space or tab that ends a line quoted or kept before a
break). tests/unit/test_email_qp.py holds both functions to the stdlib's, byte for byte.
"""

from __future__ import annotations

import binascii
import re
from email.contentmanager import _encode_text  # type: ignore[attr-defined]  # what set_content uses
from email.policy import EmailPolicy
from typing import Any

# What a quoted-printable body keeps as it is: printable ASCII but '=', space, tab, line breaks.
# The '=' signs (many, in HTML) are quoted first, by a plain replace; then the rest.
_QUOTED = re.compile("[^\t\n\r -~]")


def _quote(match: re.Match[str]) -> str:
    return f"={ord(match[0]):02X}"


def body_encode(body: str, maxlinelen: int = 76, eol: str = "\n") -> str:
    """What `email.quoprimime.body_encode` gives for `body` (text of code points below 256)."""
    if maxlinelen < 4:
        raise ValueError("maxlinelen must be at least 4")
    if not body:
        return body
    body = _QUOTED.sub(_quote, body.replace("=", "=3D"))
    soft_break = "=" + eol
    out = []
    for line in body.splitlines():
        start = 0
        while len(line) - start > maxlinelen:
            # A piece and its soft break fill the line; an escape ("=XX") is never cut, so the
            # piece ends before one that would not fit (its '=' then serves as the break).
            cut = start + maxlinelen - 1
            if line[cut - 2] == "=":
                cut -= 2
            elif line[cut - 1] == "=":
                cut -= 1
            out.append(line[start:cut] + "=")
            start = cut
        if line and line[-1] in " \t":
            # A space or tab that ends a line would be lost in transit: quote it, or keep it
            # before a soft break, whichever fits.
            room = maxlinelen + 1 - (len(line) - start)
            quoted = f"={ord(line[-1]):02X}"
            if room >= 3:
                tail = quoted
            elif room == 2:
                tail = line[-1] + soft_break
            else:
                tail = soft_break + quoted
            out.append(line[start:-1] + tail)
        else:
            out.append(line[start:])
    if body[-1] in "\r\n":
        out.append("")
    return eol.join(out)


def encode_text(body: str, policy: EmailPolicy[Any]) -> tuple[str, str]:
    """(cte, data) as `email.contentmanager._encode_text(body, "utf-8", None, policy)` gives
    them: 7bit or 8bit where every line fits, else the shorter of quoted-printable and base64
    for the first ten lines."""
    lines = body.encode("utf-8").splitlines()
    maxlen = policy.max_line_length
    if maxlen is None or max(map(len, lines), default=0) <= maxlen:
        return _stdlib(body, None, policy)  # 7bit or 8bit: nothing to quote
    linesep = policy.linesep.encode("ascii")
    sniff = linesep.join(lines[:10]) + linesep
    sniff_qp = body_encode(sniff.decode("latin-1"), maxlen)
    if len(sniff_qp) > len(binascii.b2a_base64(sniff)):
        return _stdlib(body, "base64", policy)
    if len(lines) <= 10:
        return "quoted-printable", sniff_qp
    return "quoted-printable", body_encode((b"\n".join(lines) + b"\n").decode("latin-1"), maxlen)


def _stdlib(body: str, cte: str | None, policy: EmailPolicy[Any]) -> tuple[str, str]:
    cte, data = _encode_text(body, "utf-8", cte, policy)
    return str(cte), str(data)
