"""The HTTP API (docs/contract.md "HTTP API"): one more door, building the same commands."""

from bookit.entrypoints.api.app import make_api

__all__ = ["make_api"]
