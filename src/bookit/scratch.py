"""Where runs that imagine keep their scratch store (DESIGN rule 18): a fresh temporary
directory, in memory where the system has one (`/dev/shm`), since nothing in it must last."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def scratch_dir(prefix: str = "bookit-scratch-") -> Path:
    base = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None
    return Path(tempfile.mkdtemp(prefix=prefix, dir=base))
