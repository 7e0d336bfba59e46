"""One subscription's listener: hold the lease, keep one socket open, record every gap.

- **Lease.** Only the holder of the subscription's row (service.storage.subscriptions) opens
  a socket; the others stay on standby and try again every third of the lease. The holder
  renews it every third of the lease and stops listening the moment it cannot: another
  listener may take over once the lease runs out.
- **Reconnect.** A socket that ends (Zoom closed it, no heartbeat answer, token refused) is
  replaced at once, then with jittered exponential backoff while attempts keep failing.
- **Token.** A socket is opened with the app's access token from the shared token store. When
  the store renews it (some minutes before expiry) the listener opens a socket with the new
  token first and closes the old one after: Zoom keeps the newer, and no event falls between.
  When Zoom says the token is invalid, the listener reconnects with a fresh one.
- **Gaps.** Zoom replays nothing sent while no socket was open. After every reconnect the
  window since the last moment a socket was known alive is recorded (service.storage.gaps),
  to be reconciled against Zoom's past instances.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy.exc import SQLAlchemyError
from websockets.exceptions import WebSocketException

from service import metrics
from service.listen.policy import Timing, gap_window, rotation_at
from service.listen.session import DEFAULT_CLOSE_TIMEOUT, Ended, Refused, Session
from service.storage.gaps import Gaps
from service.storage.inbox import NewEvent, Recorded
from service.storage.lease import new_owner
from service.storage.subscriptions import Held, SubscriptionLeases
from service.storage.types import utcnow
from service.zoom.exceptions import ZoomAPIError
from service.zoom.tokens import StoredToken

log = logging.getLogger(__name__)

#: How long after the token store's renewal point the socket is rotated (seconds), so the
#: store has a new token by then.
ROTATION_SLACK = 0.5
#: How long shutdown waits for frames in hand to be committed before dropping the socket
#: (seconds); what it drops is in the gap the next holder reconciles.
DEFAULT_SHUTDOWN_GRACE = 5.0

#: `unavailable`: the database cannot be reached, so whether another listener holds the
#: subscription is unknown.
State = Literal["starting", "standby", "unavailable", "connecting", "connected", "stopped"]
#: A fresh access token; never the `rejected` one. Blocking (it may call Zoom's OAuth).
TokenSource = Callable[[str | None], StoredToken]
#: Commit one event to the inbox, then enqueue it. Blocking.
Store = Callable[[NewEvent], Recorded]


@dataclass(frozen=True, slots=True)
class Subscription:
    app: str
    subscription_id: str
    account_id: str | None


class Listener:
    def __init__(
        self,
        subscription: Subscription,
        *,
        base_url: str,
        tokens: TokenSource,
        renew_margin: float,
        store: Store,
        leases: SubscriptionLeases,
        gaps: Gaps,
        timing: Timing,
        reconcile_delay: timedelta = timedelta(0),
        owner: str | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.subscription = subscription
        self.base_url = base_url
        self.tokens = tokens
        self.renew_margin = renew_margin
        self.store = store
        self.leases = leases
        self.gaps = gaps
        self.timing = timing
        self.reconcile_delay = reconcile_delay
        self.owner = owner or new_owner()
        self.rng = rng or random.Random()
        self.state: State = "starting"
        self.session: Session | None = None
        #: When a socket of this listener last proved it delivered.
        self.alive_at: datetime | None = None
        self._until: datetime | None = None
        self._closing: set[asyncio.Task[None]] = set()
        self._beat = asyncio.Event()
        app = subscription.app
        metrics.LISTENER_CONNECTED.labels(app=app).set_function(self._connected)
        metrics.LISTENER_LEASE.labels(app=app).set_function(self._holding)
        metrics.LISTENER_LAST_FRAME_AGE.labels(app=app).set_function(self.last_frame_age)

    def __repr__(self) -> str:
        return f"<Listener app={self.subscription.app} state={self.state}>"

    @property
    def app(self) -> str:
        return self.subscription.app

    def _connected(self) -> float:
        return float(self.state == "connected")

    def _holding(self) -> float:
        return float(self.state in ("connecting", "connected"))

    def last_frame_age(self) -> float:
        session = self.session
        return session.frame_age if session is not None else float("nan")

    async def run(self, stop: asyncio.Event) -> None:
        """Listen until `stop` is set: hold the subscription when free, else stand by."""
        poll = self.leases.lease.total_seconds() / 3
        try:
            while not stop.is_set():
                try:
                    held = await asyncio.to_thread(
                        self.leases.acquire,
                        self.subscription.subscription_id,
                        self.app,
                        self.owner,
                    )
                except SQLAlchemyError as exc:
                    log.warning(
                        "listener for app %s: cannot reach the database to take its lease (%s)",
                        self.app,
                        type(exc).__name__,
                    )
                    self.state = "unavailable"
                    await _wait(stop, poll)
                    continue
                if held is None:
                    self.state = "standby"
                    await _wait(stop, poll)
                    continue
                log.info(
                    "listener for app %s holds subscription %s",
                    self.app,
                    self.subscription.subscription_id,
                )
                await self._hold(held, stop)
        finally:
            self.state = "stopped"

    async def _hold(self, held: Held, stop: asyncio.Event) -> None:
        lost = asyncio.Event()
        self._until = held.until
        renewer = asyncio.create_task(self._renew(lost), name=f"zoomhooks-listen-lease-{self.app}")
        gap_from = held.alive_at
        failures = 0
        rejected: str | None = None
        try:
            while not (stop.is_set() or lost.is_set()):
                if await _wait_any([stop, lost], self.timing.reconnect_delay(failures, self.rng)):
                    break
                self.state = "connecting"
                session = await self._open(rejected)
                if isinstance(session, str):
                    failures += 1
                    rejected = session or None
                    continue
                rejected = None
                self.session = session
                self.state = "connected"
                self._beat.set()
                log.info("listener for app %s connected", self.app)
                if gap_from is not None:
                    await self._record_gap(gap_from, session.opened_at, stop)
                ended = await self._listen(stop, lost)
                gap_from = self.alive_at
                if ended in ("stop", "lost"):
                    break
                metrics.LISTENER_RECONNECTS.labels(app=self.app, reason=ended).inc()
                last = self.session
                proved = last is not None and last.alive_at > last.opened_at
                failures = 0 if proved else failures + 1
                if ended == "token" and last is not None:
                    rejected = last.token.access_token
                self.state = "connecting"
        finally:
            renewer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await renewer
            if self.session is not None:
                await self._shut(self.session)
                self.session = None
            await asyncio.gather(*self._closing, return_exceptions=True)
            if not lost.is_set():
                await self._blocking(
                    self.leases.release,
                    self.subscription.subscription_id,
                    self.owner,
                    alive_at=self.alive_at,
                    what="release the subscription",
                )

    async def _open(self, rejected: str | None, token: StoredToken | None = None) -> Session | str:
        """A new socket (with `token`, else a fresh one), or why not: the token to reject
        next time ("" for none)."""
        try:
            if token is None:
                token = await asyncio.to_thread(self.tokens, rejected)
            return await Session.open(
                self.base_url,
                self.subscription.subscription_id,
                token,
                app=self.app,
                store=self._store,
                timing=self.timing,
            )
        except Refused as exc:
            log.warning("listener for app %s: Zoom refused the socket: %s", self.app, exc)
            metrics.LISTENER_RECONNECTS.labels(app=self.app, reason="refused").inc()
            return token.access_token if exc.token and token is not None else ""
        except ZoomAPIError as exc:
            log.warning("listener for app %s: no access token: %s", self.app, exc)
        except (OSError, TimeoutError, WebSocketException) as exc:
            log.warning(
                "listener for app %s: cannot reach %s: %s",
                self.app,
                self.base_url,
                type(exc).__name__,
            )
        metrics.LISTENER_RECONNECTS.labels(app=self.app, reason="error").inc()
        return ""

    async def _listen(self, stop: asyncio.Event, lost: asyncio.Event) -> Ended | str:
        """Serve the current socket, rotating it as its token is renewed, until it ends."""
        assert self.session is not None
        rotate = rotation_at(self.session.token.expires_at, self.renew_margin) + ROTATION_SLACK
        while True:
            session = self.session
            assert session is not None
            flags = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(lost.wait())]
            waiters: list[asyncio.Future[Any]] = [*flags, session.ended]
            await asyncio.wait(
                waiters,
                timeout=max(rotate - time.time(), 0.0),
                return_when=asyncio.FIRST_COMPLETED,
            )
            for flag in flags:
                flag.cancel()
            if stop.is_set() or lost.is_set():
                self._note_alive(session)
                return "stop" if stop.is_set() else "lost"
            if session.ended.done():
                reason = session.ended.result()
                await session.close(reason)
                self._note_alive(session)
                return reason
            rotate = await self._rotate(session)

    async def _rotate(self, old: Session) -> float:
        """Open a socket with the renewed token, then close the old one (make before break);
        returns when to rotate next."""
        fresh: Session | str = ""
        try:
            token = await asyncio.to_thread(self.tokens, None)
        except ZoomAPIError as exc:
            log.warning("listener for app %s: no access token: %s", self.app, exc)
        else:
            # The same token again (the store has not renewed it yet): opening a second
            # socket with it would gain nothing.
            if token.access_token != old.token.access_token:
                fresh = await self._open(None, token)
        if isinstance(fresh, str):
            log.warning(
                "listener for app %s: could not rotate its socket to a fresh token; "
                "trying again in %ss",
                self.app,
                self.timing.rotation_retry,
            )
            return time.time() + self.timing.rotation_retry
        self.session = fresh
        metrics.LISTENER_RECONNECTS.labels(app=self.app, reason="rotation").inc()
        self._note_alive(old)
        # The old socket commits what Zoom sent it before it saw the new one, then closes.
        closing = asyncio.create_task(old.close())
        self._closing.add(closing)
        closing.add_done_callback(self._closing.discard)
        return rotation_at(fresh.token.expires_at, self.renew_margin) + ROTATION_SLACK

    async def _store(self, new: NewEvent) -> None:
        """Commit one event before the socket's next frame is read; a database outage is
        waited out (the event stays in hand, and the lease lapses if it lasts)."""
        failures = 0
        while True:
            try:
                recorded = await asyncio.to_thread(self.store, new)
            except SQLAlchemyError as exc:
                failures += 1
                delay = self.timing.reconnect_delay(failures, self.rng)
                log.warning(
                    "listener for app %s: inbox commit of %s failed (%s); again in %.1fs",
                    self.app,
                    new.event,
                    type(exc).__name__,
                    delay,
                )
                await asyncio.sleep(delay)
                continue
            outcome = "duplicate" if recorded.duplicate else "stored"
            metrics.LISTENER_EVENTS.labels(app=self.app, outcome=outcome).inc()
            return

    async def _record_gap(
        self, last_alive: datetime, reconnected: datetime, stop: asyncio.Event
    ) -> None:
        window = gap_window(last_alive, reconnected, self.timing.max_gap)
        if window.end <= window.start:
            return
        if window.clipped:
            log.warning(
                "listener for app %s was disconnected since %s; only the last %ss are "
                "reconciled: run `zoomhooks reconcile --since %s` for the rest",
                self.app,
                last_alive.isoformat(timespec="seconds"),
                int(self.timing.max_gap),
                last_alive.date().isoformat(),
            )
        failures = 0
        while not stop.is_set():
            try:
                await asyncio.to_thread(
                    self.gaps.record,
                    subscription_id=self.subscription.subscription_id,
                    app=self.app,
                    account_id=self.subscription.account_id,
                    gap_from=window.start,
                    gap_to=window.end,
                    due_at=window.end + self.reconcile_delay,
                )
            except SQLAlchemyError as exc:
                failures += 1
                log.warning(
                    "listener for app %s: recording its gap failed (%s)",
                    self.app,
                    type(exc).__name__,
                )
                await _wait(stop, self.timing.reconnect_delay(failures, self.rng))
                continue
            metrics.LISTENER_GAPS.labels(app=self.app).inc()
            log.info(
                "listener for app %s: nobody listened from %s to %s; reconcile scheduled",
                self.app,
                window.start.isoformat(timespec="seconds"),
                window.end.isoformat(timespec="seconds"),
            )
            return

    async def _renew(self, lost: asyncio.Event) -> None:
        interval = self.leases.lease.total_seconds() / 3
        while True:
            # Every third of the lease, and at once when a socket opened (ops see it).
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._beat.wait(), interval)
            self._beat.clear()
            session = self.session
            connected = session is not None and not session.ended.done()
            if session is not None:
                self._note_alive(session)
            try:
                until = await asyncio.to_thread(
                    self.leases.renew,
                    self.subscription.subscription_id,
                    self.owner,
                    connected_at=session.opened_at if connected and session else None,
                    alive_at=self.alive_at,
                )
            except SQLAlchemyError as exc:
                log.warning(
                    "listener for app %s: renewing its lease failed (%s)",
                    self.app,
                    type(exc).__name__,
                )
                if self._until is None or utcnow() + timedelta(seconds=interval) >= self._until:
                    # Another listener may take over any moment: two sockets must never be open.
                    log.warning("listener for app %s: its lease runs out; stopping", self.app)
                    lost.set()
                    return
                continue
            if until is None:
                log.warning("listener for app %s: another listener took over", self.app)
                lost.set()
                return
            self._until = until

    def _note_alive(self, session: Session) -> None:
        if self.alive_at is None or session.alive_at > self.alive_at:
            self.alive_at = session.alive_at

    async def _shut(self, session: Session) -> None:
        try:
            await asyncio.wait_for(session.close(), DEFAULT_SHUTDOWN_GRACE + DEFAULT_CLOSE_TIMEOUT)
        except TimeoutError:
            log.warning(
                "listener for app %s: frames still uncommitted at shutdown were dropped; "
                "the next holder reconciles from %s",
                self.app,
                self.alive_at,
            )
            session.abort()
        self._note_alive(session)

    async def _blocking(
        self, call: Callable[..., Any], *args: Any, what: str, **kwargs: Any
    ) -> Any:
        try:
            return await asyncio.to_thread(call, *args, **kwargs)
        except SQLAlchemyError as exc:
            log.warning(
                "listener for app %s: could not %s (%s)", self.app, what, type(exc).__name__
            )
            return None


async def _wait(stop: asyncio.Event, seconds: float) -> bool:
    """Sleep up to `seconds`; True if `stop` was set meanwhile."""
    return await _wait_any([stop], seconds)


async def _wait_any(events: list[asyncio.Event], seconds: float) -> bool:
    if any(event.is_set() for event in events):
        return True
    if seconds <= 0:
        return False
    waiters = [asyncio.ensure_future(event.wait()) for event in events]
    await asyncio.wait(waiters, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    for waiter in waiters:
        waiter.cancel()
    return any(event.is_set() for event in events)
