"""An acknowledged webhook survives `kill -9` of the embedded service and is processed on restart.

The real `zoomhooks serve` runs as a subprocess on SQLite with the embedded broker, whose queue
lives in memory and dies with the process. Whatever got a 200 must already be in the inbox when
the process is killed, and the restarted service must finish every row it finds unfinished.
"""

from __future__ import annotations

import sqlite3
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text

from service.storage import db
from service.webhooks.dedupe import dedupe_key
from service.webhooks.events import parse
from tests.conftest import MakeRuntime
from tests.support import SECRET, Service, event_body, signed_headers, start_serve, wait_until

pytestmark = pytest.mark.slow

WEBHOOK = "/webhooks/zoom"
SENDERS = 8
FIRST_BURST = 200
SECOND_BURST = 600
#: Acknowledgements of the second burst to wait for before the kill.
ACKED_BEFORE_KILL = 60
#: Deliveries that keep the workers busy while a test looks for rows in their hands; those
#: not sent by the kill fail to connect and are not acknowledged. Batched writes drain 600
#: quickly enough that a loaded machine could find no such moment.
BUSY_BURST = 3000
UNHANDLED = "durability.unhandled"
FINISHED = {"done", "ignored"}


def webhook(run: str, n: int) -> bytes:
    """A distinct event: mostly participants joining one of a few meetings, some unhandled."""
    ts = 1_700_000_000_000 + n
    if n % 10 == 0:
        return event_body(UNHANDLED, {"id": f"{run}-{n}"}, event_ts=ts)
    meeting = {
        "id": "86431910364",
        "uuid": f"{run}-meeting-{n % 4}==",
        "topic": "Zoë's durability test",
        "type": 2,
        "participant": {
            "user_id": f"{run}-user-{n}",
            "user_name": f"Zoë Exämple {n}",
            "id": f"{run}-id-{n}",
            "join_time": "2022-03-23T12:33:26Z",
        },
    }
    return event_body("meeting.participant_joined", meeting, event_ts=ts)


def expected_status(body: bytes) -> str:
    return "ignored" if parse(body).name == UNHANDLED else "done"


#: Starts the service, with extra environment if given.
Launch = Callable[..., Service]


@pytest.fixture
def database_file(tmp_path: Path) -> Path:
    return tmp_path / "db.sqlite3"


@pytest.fixture
def launch(tmp_path: Path, database_file: Path) -> Iterator[Launch]:
    """Starts `zoomhooks serve` on the same SQLite file each time; kills leftovers at the end."""
    env = {
        "DATABASE_URL": f"sqlite:///{database_file}",
        "ZOOM_WEBHOOK_SECRET_TOKEN": SECRET,
        "ZOOMHOOKS_QUEUE_PREFIX": f"zhd_{uuid.uuid4().hex[:12]}",
    }
    started: list[Service] = []

    def start(extra: dict[str, str] | None = None) -> Service:
        service = start_serve(tmp_path, env | (extra or {}), name=f"serve-{len(started)}")
        started.append(service)
        return service

    yield start
    for service in started:
        service.stop()


@dataclass
class Sender:
    """Posts signed events from several threads and remembers which ones got a 200."""

    url: str
    acked: dict[str, bytes] = field(default_factory=dict)
    failed: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self, bodies: list[bytes]) -> list[threading.Thread]:
        threads = [
            threading.Thread(target=self._send, args=(bodies[i::SENDERS],), daemon=True)
            for i in range(SENDERS)
        ]
        for thread in threads:
            thread.start()
        return threads

    def send(self, bodies: list[bytes]) -> None:
        for thread in self.start(bodies):
            thread.join(120)

    def _send(self, bodies: list[bytes]) -> None:
        with httpx.Client(base_url=self.url, timeout=30) as client:
            for body in bodies:
                try:
                    response = client.post(WEBHOOK, content=body, headers=signed_headers(body))
                except httpx.TransportError:
                    with self.lock:
                        self.failed += 1
                    return  # the server is gone
                if response.status_code == 200:
                    with self.lock:
                        self.acked[dedupe_key(parse(body).data)] = body

    def count(self) -> int:
        with self.lock:
            return len(self.acked)


def inbox(database_file: Path) -> dict[str, tuple[str, str]]:
    """dedupe_key -> (status, body), read straight from the file, as an operator would."""
    with sqlite3.connect(database_file, timeout=30) as conn:
        rows = conn.execute("SELECT dedupe_key, status, body FROM webhook_events").fetchall()
    conn.close()
    return {key: (status, body) for key, status, body in rows}


def statuses(database_file: Path) -> dict[str, int]:
    counts: dict[str, int] = {}
    for status, _body in inbox(database_file).values():
        counts[status] = counts.get(status, 0) + 1
    return counts


def assert_all_acked_stored(acked: dict[str, bytes], database_file: Path) -> None:
    stored = inbox(database_file)
    missing = [key for key in acked if key not in stored]
    assert missing == [], f"{len(missing)} acknowledged events are not in the inbox"
    for key, body in acked.items():
        assert stored[key][1] == body.decode("utf-8")


def assert_all_finished(acked: dict[str, bytes], database_file: Path) -> None:
    def settled() -> bool:
        counts = statuses(database_file)
        return not counts.get("received") and not counts.get("processing")

    wait_until(settled, timeout=60, interval=0.2)
    stored = inbox(database_file)
    wrong = {
        key: stored[key][0]
        for key, body in acked.items()
        if stored[key][0] != expected_status(body)
    }
    assert wrong == {}
    assert set(statuses(database_file)) <= FINISHED


def kill_during_burst(service: Service, run: str) -> Sender:
    """Send a burst, and SIGKILL the server once part of it has been acknowledged."""
    sender = Sender(service.url)
    threads = sender.start([webhook(run, n) for n in range(SECOND_BURST)])
    wait_until(lambda: sender.count() >= ACKED_BEFORE_KILL, timeout=60)
    service.kill()
    for thread in threads:
        thread.join(60)
    assert sender.failed > 0, "the kill did not interrupt the burst"
    assert sender.count() < SECOND_BURST
    return sender


def test_acknowledged_events_survive_sigkill_mid_burst(launch: Launch, database_file: Path) -> None:
    service = launch()
    first = Sender(service.url)
    first.send([webhook("first", n) for n in range(FIRST_BURST)])
    assert len(first.acked) == FIRST_BURST

    second = kill_during_burst(service, "second")
    acked = {**first.acked, **second.acked}
    assert_all_acked_stored(acked, database_file)

    restarted = launch()
    assert_all_finished(acked, database_file)
    assert restarted.process.poll() is None

    # Still a working service after recovery: a new event is taken and processed.
    late = Sender(restarted.url)
    late.send([webhook("late", n) for n in range(1, 4)])
    assert len(late.acked) == 3
    assert_all_finished({**acked, **late.acked}, database_file)


def batch_sizes(service: Service) -> tuple[float, float]:
    """(deliveries, group commits) the service has counted so far."""
    text_ = httpx.get(f"{service.ops_url}/metrics", timeout=10).text
    found = dict(
        line.rsplit(" ", 1)
        for line in text_.splitlines()
        if line.startswith("zoomhooks_inbox_batch_deliveries_")
    )
    return (
        float(found["zoomhooks_inbox_batch_deliveries_sum"]),
        float(found["zoomhooks_inbox_batch_deliveries_count"]),
    )


def test_a_kill_in_the_middle_of_group_commits_loses_no_acknowledged_event(
    launch: Launch, database_file: Path
) -> None:
    """Concurrent deliveries share commits; a SIGKILL lands while batches are being written.
    Every delivery answered 200 was in a committed batch, and is there after the restart."""
    service = launch()
    warm = Sender(service.url)
    warm.send([webhook("warm", n) for n in range(FIRST_BURST)])
    deliveries, commits = batch_sizes(service)
    assert deliveries >= FIRST_BURST
    assert commits < deliveries, "concurrent deliveries did not share commits"
    burst = kill_during_burst(service, "burst")
    acked = {**warm.acked, **burst.acked}
    assert_all_acked_stored(acked, database_file)
    launch()
    assert_all_finished(acked, database_file)


def hold_write_lock_with_rows_processing(database_file: Path) -> sqlite3.Connection:
    """Take SQLite's write lock at a moment when some rows are claimed but not yet finished.

    Workers that claimed a row then wait for this lock to mark it finished, so their rows stay
    `processing`. Retried until such a moment comes (a burst keeps the workers busy).
    """
    held: list[sqlite3.Connection] = []

    def locked_with_rows_processing() -> bool:
        conn = sqlite3.connect(database_file, timeout=30, isolation_level=None)
        conn.execute("BEGIN IMMEDIATE")
        (processing,) = conn.execute(
            "SELECT count(*) FROM webhook_events WHERE status = 'processing'"
        ).fetchone()
        if processing:
            held.append(conn)
            return True
        conn.execute("ROLLBACK")
        conn.close()
        return False

    wait_until(locked_with_rows_processing, timeout=60, interval=0.005)
    return held[0]


def test_rows_mid_processing_at_sigkill_are_recovered(launch: Launch, database_file: Path) -> None:
    # Rows are only ever `processing` in the workers' hands: by default the embedded service
    # processes new rows in the transaction that stores them, so send them all to the workers.
    service = launch({"ZOOMHOOKS_PROCESS_ON_INGEST": "false"})
    sender = Sender(service.url)
    threads = sender.start([webhook("mid", n) for n in range(BUSY_BURST)])
    wait_until(lambda: sender.count() >= ACKED_BEFORE_KILL, timeout=60)
    lock = hold_write_lock_with_rows_processing(database_file)
    try:
        service.kill()
    finally:
        lock.execute("ROLLBACK")
        lock.close()
    for thread in threads:
        thread.join(60)

    at_kill = statuses(database_file)
    assert at_kill.get("processing", 0) > 0, at_kill
    assert_all_acked_stored(sender.acked, database_file)

    launch()
    assert_all_finished(sender.acked, database_file)


def test_kill_right_after_acks_while_workers_busy(launch: Launch, database_file: Path) -> None:
    """No lock held: the kill lands wherever the workers are, right after the last ack."""
    service = launch()
    sender = Sender(service.url)
    sender.send([webhook("busy", n) for n in range(FIRST_BURST)])
    assert len(sender.acked) == FIRST_BURST
    service.kill()
    assert_all_acked_stored(sender.acked, database_file)

    launch()
    assert_all_finished(sender.acked, database_file)


def test_service_database_is_wal_with_full_sync(
    launch: Launch, database_file: Path, make_runtime: MakeRuntime
) -> None:
    launch().kill()
    # journal_mode=WAL is stored in the file: the service set it.
    with sqlite3.connect(database_file) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    conn.close()
    # synchronous is per connection: every connection the service's engine opens has FULL (2).
    url = f"sqlite:///{database_file}"
    for engine in (db.create(url), make_runtime(database_url=url, migrated=False).engine):
        for _ in range(2):  # one after the other: each autobegins BEGIN IMMEDIATE
            with engine.connect() as c:
                assert c.execute(text("PRAGMA journal_mode")).scalar_one() == "wal"
                assert c.execute(text("PRAGMA synchronous")).scalar_one() == 2
                assert c.execute(text("PRAGMA busy_timeout")).scalar_one() > 0
        engine.dispose()
