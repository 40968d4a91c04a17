"""docs/testing.md's examples are run as a user would run them: each is written to a test file
in an empty directory (none of this repository's conftest) and run by pytest, which finds
`bookit_service` and `fake_clock` through the installed `pytest11` entry point. The doc and the
tests cannot drift: what runs is extracted from the markdown."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parents[2] / "docs" / "testing.md"
MARKED = re.compile(r"<!-- runs in CI: (\w+) -->\n```python\n(.*?)```", re.S)


def examples() -> dict[str, str]:
    return dict(MARKED.findall(DOC.read_text()))


def run_as_a_user(tmp_path: Path, name: str, code: str) -> subprocess.CompletedProcess[str]:
    test_file = tmp_path / f"test_{name}.py"
    test_file.write_text(code)
    env = {k: v for k, v in os.environ.items() if not k.startswith("BOOKIT_")}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(test_file)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )


def test_the_doc_marks_its_three_examples_and_the_first_is_at_most_20_lines() -> None:
    found = examples()
    assert set(found) == {"first_fairness_test", "fairness_machine", "stories"}
    assert len(found["first_fairness_test"].splitlines()) <= 20
    assert "class OurVenues(FairnessMachine)" in found["fairness_machine"]


@pytest.mark.parametrize("name", ["first_fairness_test", "fairness_machine", "stories"])
def test_the_docs_example_passes_in_a_users_own_suite(tmp_path: Path, name: str) -> None:
    done = run_as_a_user(tmp_path, name, examples()[name])
    assert done.returncode == 0, done.stdout + done.stderr
    assert re.search(r"\b[1-9]\d* passed", done.stdout), done.stdout


def test_the_first_example_fails_when_the_rule_it_tests_is_broken(tmp_path: Path) -> None:
    """The example is a real test: told that bob's 30 minutes were 29, it fails."""
    code = examples()["first_fairness_test"].replace("advance(minutes=30)", "advance(minutes=29)")
    done = run_as_a_user(tmp_path, "broken", code)
    assert done.returncode == 1 and "1 failed" in done.stdout, done.stdout
