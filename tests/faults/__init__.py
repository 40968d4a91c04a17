"""Fault, load and abuse tests (issue 5). See docs/faults.md.

The integration helpers (a fresh PostgreSQL database per test, unique broker names, worker
processes) live in tests/integration, a folder without __init__ whose modules are imported by
name; this package puts it on the path for its own modules.
"""

import sys
from pathlib import Path

_INTEGRATION = str(Path(__file__).resolve().parents[1] / "integration")
if _INTEGRATION not in sys.path:
    sys.path.insert(0, _INTEGRATION)
