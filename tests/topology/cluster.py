"""A production-shaped zoomhooks on this machine: `migrate`, one `web` and N `worker` processes
of the real entry point, on PostgreSQL and a real broker, calling a fake Zoom over HTTP."""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import Engine, func, select

from service.devtools.fakezoom import (
    DEFAULT_ACCOUNT_ID,
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    Instance,
    RunningFake,
    reports,
)
from service.processing.live import FOLLOWUP_RESOURCES
from service.storage.models import (
    absentees,
    followups,
    participant_events,
    participants,
    poll_answers,
    qa_entries,
    webhook_events,
)
from tests.support import (
    SECRET,
    ZOOMHOOKS,
    Service,
    event_body,
    process_env,
    signed_headers,
    start_serve,
)

#: Zoom's page size, which the client asks for.
PAGE = 300
#: Zoom answers a webhook within this or the delivery counts as failed (seconds).
ZOOM_TIMEOUT = 3.0


def environment(
    database_url: str, broker_url: str, queue_prefix: str, fake: RunningFake, **extra: str
) -> dict[str, str]:
    return {
        "DATABASE_URL": database_url,
        "BROKER_URL": broker_url,
        "ZOOMHOOKS_QUEUE_PREFIX": queue_prefix,
        "ZOOM_WEBHOOK_SECRET_TOKEN": SECRET,
        "ZOOM_ACCOUNT_ID": DEFAULT_ACCOUNT_ID,
        "ZOOM_CLIENT_ID": DEFAULT_CLIENT_ID,
        "ZOOM_CLIENT_SECRET": DEFAULT_CLIENT_SECRET,
        "ZOOM_API_BASE_URL": fake.api_url,
        "ZOOM_OAUTH_URL": fake.oauth_url,
        "ZOOMHOOKS_FOLLOWUP_DELAY_SECONDS": "0",
        "ZOOMHOOKS_NOT_READY_RETRY_SECONDS": "0.5",
        "ZOOMHOOKS_SWEEP_INTERVAL_SECONDS": "1",
        "ZOOMHOOKS_WORKER_THREADS": "4",
        "ZOOMHOOKS_LOG_FORMAT": "text",
        **extra,
    }


@dataclass
class Cluster:
    directory: Path
    env: dict[str, str]
    web: Service | None = None
    workers: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def start(self, *, workers: int) -> Service:
        """What a deploy does: migrate once, then the web process and `workers` workers."""
        subprocess.run(
            [str(ZOOMHOOKS), "migrate"], env=process_env(self.env), check=True, timeout=120
        )
        web = self.start_web()
        for _ in range(workers):
            self.start_worker()
        return web

    def start_web(self) -> Service:
        self.web = start_serve(self.directory, self.env, name="web", command="web")
        return self.web

    def start_worker(self) -> subprocess.Popen[bytes]:
        name = f"worker{len(self.workers)}"
        with (self.directory / f"{name}.log").open("wb") as out:
            process = subprocess.Popen(
                [str(ZOOMHOOKS), "worker"],
                env=process_env(self.env),
                cwd=self.directory,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        self.workers.append(process)
        return process

    def kill(self, pid: int) -> None:
        os.kill(pid, signal.SIGKILL)
        for worker in self.workers:
            if worker.pid == pid:
                worker.wait(10)

    def logs(self) -> str:
        return "\n".join(
            f"--- {path.name}\n{path.read_text(errors='replace')[-3000:]}"
            for path in sorted(self.directory.glob("*.log"))
        )

    def close(self) -> None:
        for worker in self.workers:
            if worker.poll() is None:
                worker.terminate()
        for worker in self.workers:
            try:
                worker.wait(40)
            except subprocess.TimeoutExpired:
                worker.kill()
                worker.wait(10)
        if self.web is not None:
            self.web.stop()

    def post_all(
        self, bodies: Sequence[bytes], *, threads: int = 8, path: str = "/webhooks/zoom"
    ) -> list[int]:
        """Deliver every body as Zoom would (signed, with its 3 s timeout); the statuses."""
        assert self.web is not None
        url = self.web.url + path
        with httpx.Client(timeout=ZOOM_TIMEOUT) as client:

            def one(body: bytes) -> int:
                try:
                    return client.post(url, content=body, headers=signed_headers(body)).status_code
                except httpx.TransportError:
                    return 0

            with ThreadPoolExecutor(threads) as pool:
                return list(pool.map(one, bodies))


@contextmanager
def running_cluster(directory: Path, env: dict[str, str]) -> Iterator[Cluster]:
    """A cluster stopped afterwards; its processes' logs are printed if the test fails."""
    made = Cluster(directory, env)
    try:
        yield made
    except BaseException:
        print(made.logs())
        raise
    finally:
        made.close()


def ended(kind: str, inst: Instance, *, event_ts: int) -> bytes:
    obj: dict[str, Any] = {
        "id": str(inst.id),
        "uuid": inst.uuid,
        "host_id": "h1",
        "topic": f"{kind} {inst.id}",
        "type": 5 if kind == "webinar" else 2,
        "start_time": "2024-03-01T14:00:00Z",
        "end_time": "2024-03-01T15:00:00Z",
        "duration": 60,
    }
    return event_body(f"{kind}.ended", obj, event_ts=event_ts, account=DEFAULT_ACCOUNT_ID)


def participant_event(kind: str, inst: Instance, n: int, *, joined: bool, event_ts: int) -> bytes:
    person = {
        "id": f"p{n}",
        "user_id": str(16_000_000 + n),
        "user_name": f"Person {n}",
        "email": f"person{n}@example.com",
        "participant_uuid": f"pu{n}",
        ("join_time" if joined else "leave_time"): "2024-03-01T14:05:00Z",
    }
    action = "joined" if joined else "left"
    obj = {"id": str(inst.id), "uuid": inst.uuid, "host_id": "h1", "participant": person}
    return event_body(
        f"{kind}.participant_{action}", obj, event_ts=event_ts, account=DEFAULT_ACCOUNT_ID
    )


def minimum_calls(webinars: Iterable[Instance]) -> dict[str, int]:
    """The fewest calls that fetch every webinar's resources: one per page of each."""
    found = {
        "listWebinarParticipants": 0,
        "webinarAbsentees": 0,
        "listPastWebinarQA": 0,
        "listPastWebinarPollResults": 0,
        "webinarRegistrants": 0,
        "reportWebinarParticipants": 0,
        "reportWebinarDetails": 0,
    }
    for inst in webinars:
        for status in reports.STATUSES:  # one listing per status, one page at least
            listed, _ = reports.registrants(inst, status)
            found["webinarRegistrants"] += max(1, math.ceil(listed / PAGE))
        found["reportWebinarParticipants"] += max(1, math.ceil(inst.participants / PAGE))
        found["reportWebinarDetails"] += 1
        found["listWebinarParticipants"] += max(1, math.ceil(inst.participants / PAGE))
        found["webinarAbsentees"] += max(1, math.ceil(inst.absentees / PAGE))
        found["listPastWebinarQA"] += 1
        found["listPastWebinarPollResults"] += 1
    return found


def inbox_statuses(database: Engine) -> dict[str, int]:
    with database.connect() as conn:
        rows = conn.execute(
            select(webhook_events.c.status, func.count()).group_by(webhook_events.c.status)
        )
        return {str(status): int(count) for status, count in rows}


def followup_statuses(database: Engine) -> dict[str, int]:
    with database.connect() as conn:
        rows = conn.execute(select(followups.c.status, func.count()).group_by(followups.c.status))
        return {str(status): int(count) for status, count in rows}


#: Follow-up jobs each webinar's `ended` creates.
WEBINAR_JOBS = len(FOLLOWUP_RESOURCES["webinar"])


def all_processed(database: Engine, events: int, jobs: int) -> bool:
    return inbox_statuses(database) == {"done": events} and (
        jobs == 0 or followup_statuses(database) == {"done": jobs}
    )


def stored(database: Engine) -> dict[str, set[tuple[Any, ...]]]:
    """What the fetched tables hold, keyed by what identifies a row."""
    with database.connect() as conn:
        return {
            "participants": set(
                conn.execute(
                    select(
                        participants.c.instance_uuid,
                        participants.c.id,
                        participants.c.name,
                        participants.c.duration,
                    )
                )
            ),
            "absentees": set(conn.execute(select(absentees.c.instance_uuid, absentees.c.email))),
            "qa": set(conn.execute(select(qa_entries.c.instance_uuid, qa_entries.c.question))),
            "polls": set(
                conn.execute(
                    select(
                        poll_answers.c.instance_uuid, poll_answers.c.email, poll_answers.c.question
                    )
                )
            ),
            "participant_events": set(
                conn.execute(
                    select(
                        participant_events.c.instance_uuid,
                        participant_events.c.id,
                        participant_events.c.action,
                    )
                )
            ),
        }


def expected(webinars: Iterable[Instance]) -> dict[str, set[tuple[Any, ...]]]:
    """The fake's ground truth for the same tables."""
    found: dict[str, set[tuple[Any, ...]]] = {
        "participants": set(),
        "absentees": set(),
        "qa": set(),
        "polls": set(),
    }
    for inst in webinars:
        for p in inst.iter_participants():
            found["participants"].add((inst.uuid, p["id"], p["name"], p["duration"]))
        for a in inst.iter_absentees():
            found["absentees"].add((inst.uuid, a["email"]))
        for q in inst.qa():
            for d in q["question_details"]:
                found["qa"].add((inst.uuid, d["question"]))
        for r in inst.poll_results():
            for d in r["question_details"]:
                found["polls"].add((inst.uuid, r["email"], d["question"]))
    return found


def api_calls(fake: RunningFake) -> dict[str, int]:
    counts = dict(fake.fake.log.counts())
    counts.pop("oauthToken", None)
    return counts


def dumps(value: Any) -> str:
    return json.dumps(value, indent=1, sort_keys=True, default=str)


def row_counts(database: Engine) -> dict[str, int]:
    tables = {
        "participants": participants,
        "absentees": absentees,
        "qa": qa_entries,
        "polls": poll_answers,
        "participant_events": participant_events,
    }
    with database.connect() as conn:
        return {
            name: int(conn.execute(select(func.count()).select_from(table)).scalar_one())
            for name, table in tables.items()
        }


def expected_counts(webinars: Iterable[Instance]) -> dict[str, int]:
    found = {"participants": 0, "absentees": 0, "qa": 0, "polls": 0}
    for inst in webinars:
        found["participants"] += inst.participants
        found["absentees"] += inst.absentees
        found["qa"] += sum(len(q["question_details"]) for q in inst.qa())
        found["polls"] += sum(len(r["question_details"]) for r in inst.poll_results())
    return found
