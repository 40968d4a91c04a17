"""Pages of a list route: `?limit=N` (50 unless given, at most 500) and `?cursor=`; while more
remain the answer carries `Link: <next page>; rel="next"` (RFC 8288), and the body stays a plain
JSON array. A cursor is the sort key of the last row a page held, so a row is on exactly one
page even while rows are added (a new one lands on a later page if it sorts after the cursor).
The cursor is opaque to clients (bookit/cursors.py)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Query, Request, Response

from bookit import cursors
from bookit.entrypoints.api.problems import ApiError

DEFAULT, MOST = 50, 500
Row = TypeVar("Row")


@dataclass
class Page:
    """One request's paging: how many rows, after which key; `finish` sets the Link header."""

    limit: int
    after: list[Any] | None
    request: Request
    response: Response

    def finish(self, rows: Sequence[Row], key: Callable[[Row], Sequence[Any]]) -> list[Row]:
        """`rows` fetched with `limit + 1` (or all of them, sorted by `key`, after `after`):
        the page, with a Link to the next one when there is one."""
        shown = list(rows[: self.limit])
        if len(rows) > self.limit:
            cursor = cursors.encode(key(shown[-1]))
            url = self.request.url.include_query_params(cursor=cursor, limit=self.limit)
            self.response.headers["Link"] = f'<{url}>; rel="next"'
        return shown

    def of(self, rows: Sequence[Row], key: Callable[[Row], Sequence[Any]]) -> list[Row]:
        """A page of a list computed whole, sorted by `key` (history, a person's entries)."""
        after = tuple(self.after) if self.after is not None else None
        rest = [row for row in rows if after is None or tuple(key(row)) > after]
        return self.finish(rest[: self.limit + 1], key)


def decode(cursor: str) -> list[Any]:
    try:
        return cursors.decode(cursor)
    except ValueError:
        raise ApiError(
            422, "bad_cursor", "cursor is not one this API gave: follow the Link header of the previous page"
        ) from None


def _page(
    request: Request,
    response: Response,
    limit: Annotated[
        int, Query(ge=1, le=MOST, description=f"rows on this page ({DEFAULT} unless given, at most {MOST})")
    ] = DEFAULT,
    cursor: Annotated[
        str | None,
        Query(max_length=1000, description='from the `Link: <...>; rel="next"` header of the previous page'),
    ] = None,
) -> Page:
    return Page(limit, decode(cursor) if cursor is not None else None, request, response)


PageDep = Annotated[Page, Depends(_page)]


def numbered(steps: Sequence[dict[str, Any]]) -> list[tuple[int, dict[str, Any]]]:
    """A history's steps with their place in it: a history only grows at its end, so the
    place is a stable cursor."""
    return list(enumerate(steps))


def step_key(numbered_step: tuple[int, dict[str, Any]]) -> tuple[int]:
    return (numbered_step[0],)
