from __future__ import annotations

import pytest

from service.zoom.errors import Outcome
from service.zoom.exceptions import ZoomAPIError
from service.zoom.pagination import ListingRestarted, RawPage, paginate


def expired() -> ZoomAPIError:
    return ZoomAPIError(Outcome.PAGE_TOKEN_EXPIRED, "expired", endpoint="e", tracking_id="t")


class Listing:
    """Pages of `size` records out of `total`; tokens listed in `expire` fail once."""

    def __init__(self, total: int, size: int, expire: set[str] | None = None) -> None:
        self.total = total
        self.size = size
        self.expire = set(expire or ())
        self.calls: list[str | None] = []

    def __call__(self, token: str | None) -> RawPage:
        self.calls.append(token)
        if token in self.expire:
            self.expire.discard(token)
            raise expired()
        start = int(token or 0)
        end = min(start + self.size, self.total)
        records = [{"n": n} for n in range(start, end)]
        return RawPage(records, str(end) if end < self.total else "", self.total, f"t{start}")


@pytest.mark.parametrize(("total", "pages"), [(0, 1), (1, 1), (300, 1), (301, 2), (1000, 4)])
def test_walks_every_page(total: int, pages: int) -> None:
    listing = Listing(total, 300)
    seen = list(paginate(listing, endpoint="e"))
    assert len(seen) == pages
    assert [r["n"] for p in seen for r in p.records] == list(range(total))
    assert [p.number for p in seen] == list(range(1, pages + 1))
    assert all(p.total_records == total and p.restarts == 0 for p in seen)


def test_pages_are_fetched_lazily() -> None:
    listing = Listing(900, 300)
    pages = paginate(listing, endpoint="e")
    next(pages)
    assert listing.calls == [None]


def test_expired_page_token_restarts_from_the_first_page() -> None:
    listing = Listing(900, 300, expire={"600"})
    events: list[ListingRestarted] = []
    seen = list(paginate(listing, endpoint="e", on_restart=events.append))
    assert listing.calls == [None, "300", "600", None, "300", "600"]
    assert [p.number for p in seen] == [1, 2, 1, 2, 3]
    assert [p.restarts for p in seen] == [0, 0, 1, 1, 1]
    assert events == [ListingRestarted("e", pages_before=2, restarts=1, tracking_id="t")]


def test_restarts_are_bounded() -> None:
    def always_expired(token: str | None) -> RawPage:
        if token is None:
            return RawPage([{"n": 0}], "next")
        raise expired()

    events: list[ListingRestarted] = []
    pages = paginate(always_expired, endpoint="e", on_restart=events.append, max_restarts=2)
    with pytest.raises(ZoomAPIError) as caught:
        list(pages)
    assert caught.value.outcome is Outcome.PAGE_TOKEN_EXPIRED
    assert [e.restarts for e in events] == [1, 2]


def test_expiry_on_the_first_page_is_not_a_restart() -> None:
    def first_fails(token: str | None) -> RawPage:
        raise expired()

    with pytest.raises(ZoomAPIError):
        list(paginate(first_fails, endpoint="e"))


def test_other_errors_pass_through() -> None:
    def not_ready(token: str | None) -> RawPage:
        raise ZoomAPIError(Outcome.NOT_READY, "later", endpoint="e")

    with pytest.raises(ZoomAPIError) as caught:
        list(paginate(not_ready, endpoint="e"))
    assert caught.value.outcome is Outcome.NOT_READY


def test_a_repeating_token_stops_the_listing() -> None:
    def stuck(token: str | None) -> RawPage:
        return RawPage([{"n": 0}], "same")

    with pytest.raises(ZoomAPIError, match="does not end") as caught:
        list(paginate(stuck, endpoint="e"))
    assert caught.value.outcome is Outcome.FATAL


def test_page_count_is_bounded() -> None:
    listing = Listing(10, 1)
    with pytest.raises(ZoomAPIError, match="does not end"):
        list(paginate(listing, endpoint="e", max_pages=5))


def test_a_token_handed_out_again_later_in_the_pass_stops_the_listing() -> None:
    """A → B → A: not a repeat of the previous token, but a cycle all the same."""
    cycle = {None: "A", "A": "B", "B": "A"}
    calls: list[str | None] = []

    def cycling(token: str | None) -> RawPage:
        calls.append(token)
        return RawPage([{"n": len(calls)}], cycle[token])

    with pytest.raises(ZoomAPIError, match="a page token it handed out before") as caught:
        list(paginate(cycling, endpoint="e"))
    assert caught.value.outcome is Outcome.FATAL
    assert calls == [None, "A", "B"]


def test_more_records_than_announced_stops_the_listing() -> None:
    """Fresh tokens forever, but Zoom said there were 10 records: stop within a page or two,
    not after 10,000 pages."""
    calls: list[str | None] = []

    def endless(token: str | None) -> RawPage:
        calls.append(token)
        return RawPage([{"n": n} for n in range(300)], f"t{len(calls)}", total_records=10)

    with pytest.raises(ZoomAPIError, match="records so far, of 10 announced"):
        list(paginate(endless, endpoint="e"))
    assert len(calls) == 2


def test_seen_tokens_are_forgotten_when_the_listing_restarts() -> None:
    listing = Listing(900, 300, expire={"600"})
    seen = list(paginate(listing, endpoint="e"))
    assert listing.calls == [None, "300", "600", None, "300", "600"]
    assert seen[-1].number == 3
