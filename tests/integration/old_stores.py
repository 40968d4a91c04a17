"""The stores the previous release wrote (tests/golden/stores/v1/), restored for a test: a SQLite
BOOKIT_HOME unpacked, or the PostgreSQL dump loaded into a fresh database with its Maildir."""

from __future__ import annotations

import json
import subprocess
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from servers import fresh_database, need

OLD = Path(__file__).parents[1] / "golden" / "stores" / "v1"
READ_AT = "2026-12-08T09:00Z"  # the clock the old release's reads were made at


def unpack(name: str, home: Path) -> Path:
    home.mkdir(parents=True)
    with tarfile.open(OLD / name) as archive:
        archive.extractall(home, filter="data")
    return home


def sqlite_home(tmp_path: Path) -> Path:
    return unpack("sqlite-home.tar.gz", tmp_path / "old-sqlite")


def postgres_store(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """(home, store URL): the v1 dump restored into a database of its own, dropped afterwards."""
    need("127.0.0.1", 5432, "PostgreSQL")
    home = unpack("postgres-home.tar.gz", tmp_path / "old-postgres")
    for url in fresh_database():
        psql = ["psql", "-q", "-X", "-v", "ON_ERROR_STOP=1", "-d", url, "-f", str(OLD / "postgres.sql")]
        subprocess.run(psql, check=True, capture_output=True)
        yield home, url


def old_reads(kind: str) -> dict[str, Any]:
    """What the old release's `bookit --json` printed: {"ids": ..., "reads": [{args, stdout}]}."""
    data: dict[str, Any] = json.loads((OLD / f"{kind}-reads.json").read_text())
    return data
