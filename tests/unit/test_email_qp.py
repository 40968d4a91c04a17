"""A body encoded by adapters/mail/qp.py is what the stdlib's `set_content` encodes: the same
Content-Transfer-Encoding and the same text, for any body (long lines, '=' signs, spaces and
tabs at the ends of lines, any script)."""

from __future__ import annotations

from email import quoprimime
from email.contentmanager import _encode_text  # type: ignore[attr-defined]
from email.policy import SMTP, EmailPolicy
from email.policy import default as default_policy
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from bookit.adapters.mail import qp

# Long runs of plain text with the characters quoted-printable treats specially among them.
LINE = st.text(st.sampled_from(list("ab =\t\r\n\x00é—🎶<>\"'")), max_size=400)
WIDE = st.builds(
    lambda word, n, tail: word * n + tail,
    st.sampled_from(["a", "= ", "é", "ab=", "\t"]),
    st.integers(0, 200),
    LINE,
)
BODIES = st.one_of(LINE, WIDE, st.text(max_size=300))
POLICIES = st.sampled_from([default_policy, SMTP, default_policy.clone(cte_type="7bit")])


@settings(max_examples=800, deadline=None)
@given(body=BODIES, maxlinelen=st.integers(4, 90), eol=st.sampled_from(["\n", "\r\n"]))
def test_quoting_is_the_stdlib_s(body: str, maxlinelen: int, eol: str) -> None:
    latin = body.encode("utf-8").decode("latin-1")  # what set_content hands the quoter

    assert qp.body_encode(latin, maxlinelen, eol) == quoprimime.body_encode(latin, maxlinelen, eol)


@settings(max_examples=800, deadline=None)
@given(body=BODIES, policy=POLICIES)
def test_a_body_is_encoded_as_set_content_encodes_it(body: str, policy: EmailPolicy[Any]) -> None:
    assert qp.encode_text(body, policy) == _encode_text(body, "utf-8", None, policy)


def test_an_html_email_s_long_lines_are_quoted_printable() -> None:
    body = '<p style="margin:0">' + "Your booking at Salle Zoë is confirmed. " * 10 + "</p>\n" * 12

    cte, data = qp.encode_text(body, default_policy)

    assert cte == "quoted-printable" and (cte, data) == _encode_text(body, "utf-8", None, default_policy)
    assert all(len(line) <= default_policy.max_line_length for line in data.splitlines())
