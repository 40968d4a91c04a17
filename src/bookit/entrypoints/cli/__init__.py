"""The `bookit` command line (docs/contract.md): plain strings in, commands to the bus, results out.

Exit codes: 0 done, 1 refused by a domain rule, 2 bad input. With --json every result is one
JSON object on stdout, and a refusal is {"error": ..., "code": ...}.

`context.py` holds the group and its options; each module beside it adds one family of
commands to it. A new family is a new module imported here, which imports the commands, the
queries or the service inside its command functions, never at its top, so that `bookit --help`
stays fast (see context.py; tests/e2e/test_cli_startup.py checks every module).
"""

from bookit.entrypoints.cli import (  # noqa: F401  (register commands)
    audit,
    bookings,
    calendar,
    no_shows,
    operate,
    person,
    rules,
    simulate,
    status,
    venues,
    waitlist,
    whatif,
)
from bookit.entrypoints.cli.context import Context, main

__all__ = ["Context", "main"]
