"""`bookit run --processes N`: one directory for every child's metrics.

prometheus_client's multiprocess mode: each process writes its counters and histograms to
files in `PROMETHEUS_MULTIPROC_DIR`, and the process that serves `/metrics` (the followers
process) adds them up. BookIT makes a fresh directory for the set of processes and removes it
when they stop. One given in the environment is used instead and emptied first: counts left
by an earlier run would be added to this one's.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator, MutableMapping
from contextlib import contextmanager
from pathlib import Path

VARIABLE = "PROMETHEUS_MULTIPROC_DIR"


@contextmanager
def shared_metrics(env: MutableMapping[str, str]) -> Iterator[Path]:
    """Set `env`'s PROMETHEUS_MULTIPROC_DIR for the children while the block runs."""
    given = env.get(VARIABLE)
    if given:
        path = Path(given)
        path.mkdir(parents=True, exist_ok=True)
        for stale in path.glob("*.db"):
            stale.unlink()
        yield path
        return
    path = Path(tempfile.mkdtemp(prefix="bookit-metrics-"))
    env[VARIABLE] = str(path)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)
