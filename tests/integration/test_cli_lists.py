"""`bookit bookings` has an end and pages: at most --limit lines (50 unless given), stderr says
how many and, while more remain, the --after of the next page; followed to the end, every
booking is listed once."""

from __future__ import annotations

import re
from pathlib import Path

from click.testing import CliRunner

from bookit.entrypoints.cli import main


def test_bookings_come_in_pages_that_end(tmp_path: Path) -> None:
    runner = CliRunner()
    home = ["--home", str(tmp_path / "home"), "--now", "2026-12-01T09:00Z"]
    assert (
        runner.invoke(main, [*home, "venue", "add", "--name", "Main Hall", "--tz", "Europe/London"]).exit_code
        == 0
    )
    made = set()
    for hour in range(10, 17):
        booked = runner.invoke(
            main,
            [
                *home,
                "book",
                "--user",
                "ann@example.com",
                "--venue",
                "main-hall",
                "--date",
                "2026-12-05",
                "--start",
                f"{hour}:00",
                "--end",
                f"{hour}:30",
            ],
        )
        made.add(booked.stdout.split("\t")[0])
    seen: list[str] = []
    after: list[str] = []
    sizes = []
    while True:
        page = runner.invoke(main, [*home, "bookings", "--limit", "3", *after])
        assert page.exit_code == 0, page.stderr
        lines = page.stdout.splitlines()
        sizes.append(len(lines))
        seen += [line.split("\t")[0] for line in lines]
        more = re.search(r"the next page: --after (\S+)$", page.stderr.strip())
        if more is None:
            assert page.stderr.strip().endswith("1 booking(s) on this page, the last")
            break
        assert page.stderr.startswith("3 bookings shown")
        after = ["--after", more.group(1)]
    assert sizes == [3, 3, 1] and len(seen) == len(set(seen)) and set(seen) == made
    whole = runner.invoke(main, [*home, "bookings"])
    assert len(whole.stdout.splitlines()) == 7 and whole.stderr.strip() == "7 booking(s)"
    bad = runner.invoke(main, [*home, "bookings", "--after", "nonsense"])
    assert bad.exit_code == 2 and "--after: not a cursor bookit printed" in bad.stderr
