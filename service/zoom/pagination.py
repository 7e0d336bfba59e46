"""Walking a `next_page_token` listing page by page, restarting when the token expires.

Pages are yielded as they arrive, so a listing of 100k rows is processed in constant memory.
Zoom's page token lives 15 minutes; a consumer slower than that gets "The next page token is
invalid or expired" and the listing starts again from the first page. The caller's writes are
upserts, so seeing early pages twice is harmless, but it is told (`ListingRestarted`) so that it
can count restarts and notice a consumer too slow to ever finish.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from .errors import Outcome
from .exceptions import ZoomAPIError

#: Restarts of one listing after expired page tokens before giving up.
DEFAULT_MAX_RESTARTS = 3
#: Pages in one pass before the listing is taken as looping (pages); 3M records at 300 a page.
DEFAULT_MAX_PAGES = 10_000
#: Records a pass may yield beyond the `total_records` Zoom announced before it is taken as
#: looping: a listing can grow while it is walked, a little (records).
DEFAULT_TOTAL_SLACK = 300


@dataclass(frozen=True, slots=True)
class RawPage:
    """One response of a listing, as the fetch function returns it."""

    records: list[dict[str, Any]]
    next_page_token: str | None
    total_records: int | None = None
    tracking_id: str | None = None


@dataclass(frozen=True, slots=True)
class Page:
    records: list[dict[str, Any]]
    #: 1-based position in the current pass over the listing.
    number: int
    #: Restarts so far; pages of an abandoned pass will be seen again.
    restarts: int
    total_records: int | None
    tracking_id: str | None


@dataclass(frozen=True, slots=True)
class ListingRestarted:
    """The page token expired and the listing starts over from its first page."""

    endpoint: str
    #: Pages yielded in the abandoned pass.
    pages_before: int
    #: Restarts so far, this one included.
    restarts: int
    tracking_id: str | None


FetchPage = Callable[[str | None], RawPage]


def paginate(
    fetch: FetchPage,
    *,
    endpoint: str,
    on_restart: Callable[[ListingRestarted], None] | None = None,
    max_restarts: int = DEFAULT_MAX_RESTARTS,
    max_pages: int = DEFAULT_MAX_PAGES,
) -> Iterator[Page]:
    """Yield every page of a listing. `fetch(token)` gets one page; None means the first.

    Raises the `ZoomAPIError` of `fetch` unchanged, except PAGE_TOKEN_EXPIRED on a later page,
    which restarts the listing up to `max_restarts` times. A pass that hands out a page token
    it handed out before, or yields more records than Zoom's `total_records` said there are,
    or more than `max_pages` pages, is a loop: FATAL, at once.
    """
    restarts = 0
    number = 0
    token: str | None = None
    seen: set[str] = set()
    records = 0
    while True:
        try:
            raw = fetch(token)
        except ZoomAPIError as exc:
            expired = exc.outcome is Outcome.PAGE_TOKEN_EXPIRED and token is not None
            if not expired or restarts >= max_restarts:
                raise
            restarts += 1
            if on_restart is not None:
                on_restart(ListingRestarted(endpoint, number, restarts, exc.tracking_id))
            number = 0
            token = None
            seen.clear()
            records = 0
            continue
        number += 1
        records += len(raw.records)
        yield Page(raw.records, number, restarts, raw.total_records, raw.tracking_id)
        if not raw.next_page_token:
            return
        why = _looping(raw, number, records, seen, max_pages)
        if why:
            raise ZoomAPIError(
                Outcome.FATAL,
                f"Zoom's listing of {endpoint} does not end (page {number}: {why}); stopped.",
                endpoint=endpoint,
                tracking_id=raw.tracking_id,
            )
        seen.add(raw.next_page_token)
        token = raw.next_page_token


def _looping(raw: RawPage, number: int, records: int, seen: set[str], max_pages: int) -> str:
    """Why a pass that goes on after page `number` is a loop, or '' if it is not."""
    assert raw.next_page_token
    if raw.next_page_token in seen:
        return "a page token it handed out before"
    if raw.total_records is not None and records > raw.total_records + DEFAULT_TOTAL_SLACK:
        return f"{records} records so far, of {raw.total_records} announced"
    if number >= max_pages:
        return f"more than {max_pages} pages"
    return ""
