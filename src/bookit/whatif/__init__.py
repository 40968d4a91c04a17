"""`bookit whatif`: the recorded user actions re-run under changed rules, on a scratch store.

- `changes.py`: RULE=VALUE into service configuration and venue rules;
- `history.py`: the real store, opened to read only: the actions people took and the instants
  the service ticked;
- `replay.py`: those actions against a scratch BookIT with a fake clock that jumps from one due
  instant to the next, a counting outbox, and the actions that no longer apply kept;
- `outcomes.py`: what came of a history (auto-cancellations, offers, claims, freed hours
  filled, emails, who), actual beside what-if.

The real store is read, never written (DESIGN rule 18).
"""
