"""Pre-sign N distinct, realistic Zoom webhook deliveries for the wrk load (requests.lua).

The bodies are modelled on /work/shared/zoom-fixtures/webhooks/*.json and the real captures
(compact JSON as Zoom sends it, non-ASCII names as raw UTF-8, some bodies payload-first), and
every one is distinct: `event_ts` is `first_event_ts + index`, so each event has its own dedupe
key and the rows of one load can be counted with `event_ts BETWEEN first AND last`.

Output, for `--out PREFIX` and `--threads T`:
  PREFIX.t0 .. PREFIX.t{T-1}  event i goes to file i % T; each holds records `<length>\\n<raw HTTP
                              request>` (request line, headers, body), ready to write to a socket
  PREFIX.meta.json            what was written: count, event_ts range, timestamp, mix of events

Signing happens once, here, with the current time as x-zm-request-timestamp; the service accepts
timestamps up to two hours old, far longer than a benchmark run.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import random
import string
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

WEBHOOK_PATH = "/webhooks/zoom"

#: (event name, weight): participant traffic dominates real deliveries; lifecycle events are rare.
EVENT_MIX: tuple[tuple[str, int], ...] = (
    ("meeting.participant_joined", 26),
    ("meeting.participant_left", 26),
    ("webinar.participant_joined", 17),
    ("webinar.participant_left", 17),
    ("meeting.participant_joined_waiting_room", 3),
    ("meeting.started", 2),
    ("meeting.ended", 2),
    ("webinar.started", 2),
    ("webinar.ended", 2),
    ("recording.completed", 3),
)

NAMES: tuple[str, ...] = (
    "Zoë Exämple",
    "José Núñez",
    "Åsa Öberg",
    "Łukasz Żółkiewski",
    "Nguyễn Văn An",
    "田中 太郎",
    "Đorđe Petrović",
    "Søren Kierkegård",
    "محمد علي",
    "Ольга Иванова",
    "Renée Faÿ 🎉",
    "Chloë O'Brien",
    "Jill Chill",
    "김민준",
    "Ἀριστοτέλης",
)
TOPICS: tuple[str, ...] = (
    "Weekly sync",
    "Café des Sciences — Q&A",
    "Zoë Exämple's Zoom Meeting",
    "Präsentation: Jahresbericht",
    "Onboarding 新入社員",
    "Revisión trimestral",
    "My Webinar",
)
LEAVE_REASONS: tuple[str, ...] = (
    "left the meeting.<br>Reason: Host ended the meeting.",
    "left the meeting.<br>Reason: left the meeting.",
    "left the meeting.<br>Reason: Connection lost.",
)
TIMEZONES: tuple[str, ...] = ("America/Los_Angeles", "Europe/Prague", "Asia/Tokyo", "")

_B64 = string.ascii_letters + string.digits + "-_"


def sign(secret: bytes, timestamp: str, body: bytes) -> str:
    """`v0=` + hex HMAC-SHA256 of `v0:{timestamp}:{body}`, as Zoom computes it."""
    message = b"v0:" + timestamp.encode("ascii") + b":" + body
    return "v0=" + hmac.new(secret, message, hashlib.sha256).hexdigest()


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True, slots=True)
class Session:
    """One meeting or webinar that events refer to."""

    account_id: str
    id: str
    uuid: str
    host_id: str
    topic: str
    type: int
    start: datetime
    timezone: str
    webinar: bool


class EventFactory:
    """Builds the bodies; deterministic for a seed, distinct by construction (event_ts)."""

    def __init__(self, seed: int, first_event_ts: int) -> None:
        self.rng = random.Random(seed)
        self.first_event_ts = first_event_ts
        self.accounts = [self._token(22) for _ in range(8)]
        self.sessions = [self._session() for _ in range(64)]
        self.names = [e for e, _ in EVENT_MIX]
        self.weights = [w for _, w in EVENT_MIX]

    def _token(self, length: int) -> str:
        return "".join(self.rng.choice(_B64) for _ in range(length))

    def _uuid(self) -> str:
        return self._token(22) + "=="

    def _session(self) -> Session:
        webinar = self.rng.random() < 0.4
        start = datetime(2026, 11, 22, 9, 0, tzinfo=UTC) + timedelta(
            minutes=self.rng.randrange(0, 600)
        )
        return Session(
            account_id=self.rng.choice(self.accounts),
            id=str(self.rng.randrange(10**10, 10**11)),
            uuid=self._uuid(),
            host_id=self._token(22),
            topic=self.rng.choice(TOPICS),
            type=self.rng.choice((5, 9) if webinar else (1, 2, 8)),
            start=start,
            timezone=self.rng.choice(TIMEZONES),
            webinar=webinar,
        )

    def _participant(self, index: int, moment: datetime, *, left: bool) -> dict[str, Any]:
        name = self.rng.choice(NAMES)
        pid = self._token(22)
        person: dict[str, Any] = {
            "user_id": str(16778240 + index),
            "user_name": name,
            "id": pid,
            "participant_uuid": f"{self._token(14)}{index:08d}",
            "participant_user_id": pid,
            "email": f"user{index}@example.com",
            "registrant_id": self.rng.choice((None, "", self._token(24))),
            "customer_key": self._token(12),
        }
        if left:
            person["leave_time"] = _iso(moment)
            person["leave_reason"] = f"{name} {self.rng.choice(LEAVE_REASONS)}"
        else:
            person["join_time"] = _iso(moment)
        if self.rng.random() < 0.2:
            person["phone_number"] = str(self.rng.randrange(10**12, 10**13))
        return person

    def _object(self, s: Session) -> dict[str, Any]:
        return {
            "id": s.id,
            "uuid": s.uuid,
            "host_id": s.host_id,
            "topic": s.topic,
            "type": s.type,
            "start_time": _iso(s.start),
            "timezone": s.timezone,
            "duration": self.rng.choice((0, 30, 60, 90)),
        }

    def event(self, index: int) -> tuple[str, bytes]:
        """The name and compact UTF-8 body of event `index` (its event_ts is unique)."""
        name = self.rng.choices(self.names, self.weights)[0]
        want_webinar = name.startswith("webinar.")
        pool = [s for s in self.sessions if s.webinar == want_webinar] or self.sessions
        s = self.rng.choice(pool)
        moment = s.start + timedelta(seconds=self.rng.randrange(0, 3600))
        obj = self._object(s)
        if ".participant_" in name:
            obj["participant"] = self._participant(index, moment, left="_left" in name)
        elif name.endswith(".ended"):
            obj["end_time"] = _iso(moment)
            if s.webinar:
                obj["practice_session"] = self.rng.random() < 0.1
        elif name == "recording.completed":
            obj.update(self._recording(s, moment))
        event_ts = self.first_event_ts + index
        payload = {"account_id": s.account_id, "object": obj}
        data: dict[str, Any]
        if self.rng.random() < 0.5:  # as in the real captures: payload first, event last
            data = {"payload": payload, "event_ts": event_ts, "event": name}
        else:
            data = {"event": name, "event_ts": event_ts, "payload": payload}
        if name == "recording.completed":
            data["download_token"] = self._token(120)
        body = json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        return name, body

    def _recording(self, s: Session, moment: datetime) -> dict[str, Any]:
        files: list[dict[str, Any]] = []
        total = 0
        for kind, ext in (("shared_screen_with_speaker_view", "MP4"), ("audio_only", "M4A")):
            fid = str(uuid.UUID(int=self.rng.getrandbits(128)))
            size = self.rng.randrange(10**5, 10**8)
            total += size
            files.append(
                {
                    "id": fid,
                    "meeting_id": s.uuid,
                    "recording_start": _iso(s.start),
                    "recording_end": _iso(moment),
                    "file_type": ext,
                    "file_size": size,
                    "play_url": f"https://example.zoom.us/rec/play/{self._token(40)}",
                    "download_url": f"https://example.zoom.us/rec/download/{self._token(40)}",
                    "status": "completed",
                    "recording_type": kind,
                }
            )
        return {
            "share_url": f"https://example.zoom.us/rec/share/{self._token(40)}",
            "total_size": total,
            "recording_count": len(files),
            "recording_files": files,
        }


def raw_request(
    body: bytes, timestamp: str, signature: str, request_id: str, tracking: str
) -> bytes:
    """An HTTP/1.1 request as a Zoom delivery looks on the wire (keep-alive, compact body)."""
    head = (
        f"POST {WEBHOOK_PATH} HTTP/1.1\r\n"
        "Host: 127.0.0.1\r\n"
        "User-Agent: Zoom Marketplace/1.0a\r\n"
        "Content-Type: application/json; charset=utf-8\r\n"
        f"Content-Length: {len(body)}\r\n"
        f"x-zm-request-timestamp: {timestamp}\r\n"
        f"x-zm-signature: {signature}\r\n"
        f"x-zm-request-id: {request_id}\r\n"
        f"x-zm-trackingid: {tracking}\r\n"
        "\r\n"
    )
    return head.encode("ascii") + body


def presign(
    *,
    out: Path,
    count: int,
    threads: int,
    secret: bytes,
    first_event_ts: int,
    seed: int,
    timestamp: int | None = None,
) -> dict[str, Any]:
    """Write the per-thread request files and the meta file; returns the meta."""
    if count < 1 or threads < 1:
        raise ValueError("count and threads must be positive")
    ts = str(int(time.time()) if timestamp is None else timestamp)
    factory = EventFactory(seed, first_event_ts)
    out.parent.mkdir(parents=True, exist_ok=True)
    files = [out.with_name(f"{out.name}.t{k}") for k in range(threads)]
    handles = [f.open("wb") for f in files]
    mix: Counter[str] = Counter()
    body_bytes = 0
    try:
        for index in range(count):
            name, body = factory.event(index)
            mix[name] += 1
            body_bytes += len(body)
            request_id = str(uuid.UUID(int=factory.rng.getrandbits(128))).replace("-", "_")
            tracking = f"v=2.0&s={factory._token(26)}&c=us01"
            raw = raw_request(body, ts, sign(secret, ts, body), request_id, tracking)
            handle = handles[index % threads]
            handle.write(f"{len(raw)}\n".encode("ascii"))
            handle.write(raw)
    finally:
        for handle in handles:
            handle.close()
    meta: dict[str, Any] = {
        "count": count,
        "threads": threads,
        "per_thread": [len(range(k, count, threads)) for k in range(threads)],
        "files": [str(f) for f in files],
        "first_event_ts": first_event_ts,
        "last_event_ts": first_event_ts + count - 1,
        "x_zm_request_timestamp": int(ts),
        "seed": seed,
        "mean_body_bytes": round(body_bytes / count, 1),
        "mix": dict(sorted(mix.items())),
    }
    out.with_name(f"{out.name}.meta.json").write_text(json.dumps(meta, indent=2) + "\n")
    return meta


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--out", type=Path, required=True, help="prefix of the files written")
    parser.add_argument("--count", type=int, default=20_000, help="events (default 20000)")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads = files (default 2)")
    parser.add_argument("--secret", required=True, help="the webhook secret token to sign with")
    parser.add_argument(
        "--first-event-ts",
        type=int,
        default=None,
        help="event_ts of event 0, ms (default: now in ms minus count)",
    )
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    first = args.first_event_ts
    if first is None:
        first = int(time.time() * 1000) - args.count
    meta = presign(
        out=args.out,
        count=args.count,
        threads=args.threads,
        secret=args.secret.encode("utf-8"),
        first_event_ts=first,
        seed=args.seed,
    )
    print(json.dumps(meta, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
