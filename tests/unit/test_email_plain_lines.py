"""The one-line templates rendered without jinja's context give jinja's text exactly."""

from __future__ import annotations

import jinja2
import pytest
from hypothesis import given
from hypothesis import strategies as st
from test_email_compose import context

from bookit.adapters.mail.compose import _SUBJECTS, KINDS, _environments
from bookit.adapters.mail.plain import PlainLine, compile_line
from bookit.adapters.mail.wording import LEADS


def _text_env() -> jinja2.Environment:
    return _environments()[0]


def _lines(kind: str) -> list[str]:
    return [_SUBJECTS[kind], *LEADS[kind]]


@pytest.mark.parametrize("kind", KINDS)
def test_every_subject_and_opening_line_is_jinja_s_text(kind: str) -> None:
    env = _text_env()
    values = {**context(kind), "confirmed": False}
    for source in _lines(kind):
        assert compile_line(env, source).render(values) == env.from_string(source).render(values)


def test_the_subjects_and_most_opening_lines_take_the_plain_path() -> None:
    env = _text_env()
    compiled = [compile_line(env, source) for kind in KINDS for source in _lines(kind)]
    plain = [line for line in compiled if isinstance(line, PlainLine)]
    assert all(isinstance(compile_line(env, source), PlainLine) for source in _SUBJECTS.values())
    # The reminder's and the no-show's conditions and the offer's `duration` filter stay jinja.
    assert len(compiled) - len(plain) == 3


@pytest.mark.parametrize(
    "source",
    [
        "{{ minutes | duration }} left",
        "{{ 'a' if confirmed else 'b' }}",
        "{{ venue.name }}",
        "{% if confirmed %}yes{% endif %}",
        "{{ a ~ b }}",
    ],
)
def test_anything_but_text_and_names_stays_a_jinja_template(source: str) -> None:
    assert isinstance(compile_line(_text_env(), source), jinja2.Template)


def test_an_autoescaping_environment_is_never_given_a_plain_line() -> None:
    html_env = _environments()[1]
    assert isinstance(compile_line(html_env, "Hello {{ name }}"), jinja2.Template)


def test_a_missing_name_is_the_same_loud_error_as_jinja_s() -> None:
    env = _text_env()
    line = compile_line(env, "Booking confirmed: {{ venue_name }} on {{ date }}")
    assert isinstance(line, PlainLine)
    with pytest.raises(jinja2.UndefinedError, match="'date' is undefined"):
        line.render({"venue_name": "Main Hall"})
    with pytest.raises(jinja2.UndefinedError, match="'date' is undefined"):
        env.from_string("Booking confirmed: {{ venue_name }} on {{ date }}").render(venue_name="Main Hall")


@given(
    value=st.one_of(st.text(), st.integers(), st.booleans(), st.none(), st.floats(allow_nan=False)),
    text=st.text(alphabet=st.characters(blacklist_characters="{}%#")),
)
def test_any_value_and_text_around_it_give_jinja_s_text(value: object, text: str) -> None:
    env = _text_env()
    source = f"{text}{{{{ venue_name }}}}{text} {{{{ date }}}}"
    values = {"venue_name": value, "date": "Thursday"}
    assert compile_line(env, source).render(values) == env.from_string(source).render(values)
