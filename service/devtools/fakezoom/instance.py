"""One past webinar or meeting instance, whose data is generated on demand.

An `Instance` stores only its parameters; every participant or absentee row is a pure function
of (seed, row index), so a 100,000-participant webinar costs a few hundred bytes until a page of
it is asked for. The same functions are the ground truth tests compare stored rows with.

Participant rows come in blocks of `REJOIN_BLOCK`: in each full block the last row is a rejoin,
the same person (same `id`, `user_id`, `name`) again with a later join and leave time, as Zoom's
past participants lists do. About one person in seven is a guest with empty `id` and email.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import Any, Literal

from .people import ANONYMOUS_NAME, digest, person, zoom_id

Kind = Literal["webinar", "meeting"]

DEFAULT_DURATION_MINUTES = 60
#: Rows per block of participants; the last row of each full block is a rejoin.
REJOIN_BLOCK = 10
#: How many distinct participants answer the polls (at most).
DEFAULT_POLL_RESPONDENTS = 20
#: Absentees are drawn from person numbers above this, disjoint from the participants.
_ABSENTEE_BASE = 10_000_000
#: The person number of every instance's host.
HOST_PERSON = 2 * _ABSENTEE_BASE

_QUESTIONS = (
    "Will the slides be shared afterwards?",
    "¿Habrá grabación? 🎥",
    "Wie skaliert das über 10.000 Teilnehmer?",
    "この機能はいつ使えますか?",
    'What does "at-least-once" mean here?',
)
_ANSWERS = ("Yes, by email after the session.", "live answered", "")
_POLL_QUESTIONS = (
    "How useful was this session?",
    "Which topics should we cover next?",
    "Würden Sie uns weiterempfehlen?",
)
_CHOICES = ("Very useful", "Somewhat", "Ja, natürlich", "いいえ", "Maybe 🤔")
_COUNTRIES = (
    ("US", "CA", "94045"),
    ("DE", "BY", "80331"),
    ("JP", "13", "100-0001"),
    ("BR", "SP", "01000-000"),
)
_EMPLOYEES = ("", "1-20", "21-50", "501-1,000", "More than 10,000")
_TIME_FRAMES = ("", "Within a month", "1-3 months", "No timeframe")
_ROLES = ("", "Decision Maker", "Influencer", "Not involved")


def zoom_time(moment: datetime) -> str:
    """Zoom's wire format for timestamps: UTC, whole seconds, `Z`."""
    return moment.astimezone(UTC).replace(tzinfo=None, microsecond=0).isoformat() + "Z"


@dataclass(frozen=True)
class Instance:
    """One ended webinar or meeting instance and the generator of all its past data."""

    kind: Kind
    id: int
    uuid: str
    seed: int
    #: Participant rows (`total_records`), rejoins included.
    participants: int
    absentees: int
    questions: int
    polls: int
    start_time: datetime
    duration_minutes: int = DEFAULT_DURATION_MINUTES
    topic: str = ""
    registration: bool = False
    too_old: bool = False
    rejoins: bool = True
    poll_respondents: int = DEFAULT_POLL_RESPONDENTS
    #: Registrants listed as `pending` and as `denied` (see `reports.py`); the approved ones
    #: are the participants who registered and the absentees.
    pending_registrants: int = 0
    denied_registrants: int = 0
    host: dict[str, str] = field(default_factory=dict, compare=False, hash=False)

    @property
    def end_time(self) -> datetime:
        return self.start_time + timedelta(minutes=self.duration_minutes)

    @property
    def persons(self) -> int:
        """Distinct people among the participant rows."""
        if not self.rejoins:
            return self.participants
        full, rest = divmod(self.participants, REJOIN_BLOCK)
        return full * (REJOIN_BLOCK - 1) + rest

    def person_of_row(self, row: int) -> tuple[int, bool]:
        """(person index, is a rejoin) of participant row `row`."""
        if not self.rejoins:
            return row, False
        block, pos = divmod(row, REJOIN_BLOCK)
        first = block * (REJOIN_BLOCK - 1)
        if pos == REJOIN_BLOCK - 1:
            return first + digest(self.seed, "rejoin", row) % (REJOIN_BLOCK - 1), True
        return first + pos, False

    @cached_property
    def _naive_start(self) -> datetime:
        return self.start_time.astimezone(UTC).replace(tzinfo=None, microsecond=0)

    @cached_property
    def _times(self) -> dict[int, str]:
        return {}

    def _at(self, offset: int) -> str:
        """`zoom_time(start_time + offset seconds)`, memoised: offsets span about an hour."""
        text = self._times.get(offset)
        if text is None:
            text = (self._naive_start + timedelta(seconds=offset)).isoformat() + "Z"
            self._times[offset] = text
        return text

    def _first_stint(self, p: int) -> tuple[int, int]:
        """Join and leave of person `p`'s first stint, in seconds after the start."""
        h = digest(self.seed, "stint", p)
        join = h % 1200
        return join, join + 60 + (h >> 12) % 1140

    def participant(self, row: int) -> dict[str, Any]:
        """Participant row `row` exactly as the participants endpoint serves it."""
        if not 0 <= row < self.participants:
            raise IndexError(row)
        p, rejoin = self.person_of_row(row)
        who = person(self.seed, p)
        join, leave = self._first_stint(p)
        if rejoin:
            h = digest(self.seed, "again", row)
            join = leave + 30 + h % 300
            leave = join + 60 + (h >> 12) % 600
        h = digest(self.seed, "row", row)
        body: dict[str, Any] = {"id": who.participant_id, "name": who.name, "user_id": who.user_id}
        if self.registration:
            body["registrant_id"] = "" if who.guest else who.registrant_id
        body["user_email"] = who.email
        body["join_time"] = self._at(join)
        body["leave_time"] = self._at(leave)
        body["duration"] = leave - join
        body["failover"] = h % 97 == 0
        body["status"] = "in_waiting_room" if h % 50 == 0 else "in_meeting"
        body["internal_user"] = not who.guest and (h >> 8) % 3 == 0
        return body

    def participants_page(self, offset: int, limit: int) -> list[dict[str, Any]]:
        return [self.participant(i) for i in range(offset, min(offset + limit, self.participants))]

    def iter_participants(self) -> Iterator[dict[str, Any]]:
        return (self.participant(i) for i in range(self.participants))

    def absentee(self, row: int) -> dict[str, Any]:
        """Absentee (registrant who did not attend) `row`, as the absentees endpoint serves it."""
        if not 0 <= row < self.absentees:
            raise IndexError(row)
        who = person(self.seed, _ABSENTEE_BASE + row)
        return self.registrant_record(
            "absentee",
            row,
            zoom_id(self.seed, "absentee", row),
            who.first_name,
            who.last_name,
            f"absentee{row}@example.com",
            "approved",
            [{"title": "What do you hope to learn?", "value": "Everything ✨"}],
        )

    def registrant_record(
        self,
        salt: str,
        row: int,
        registrant: str,
        first_name: str,
        last_name: str,
        email: str,
        status: str,
        custom_questions: list[dict[str, str]],
    ) -> dict[str, Any]:
        """A registrant object as the absentees and registrants listings serve it."""
        h = digest(self.seed, salt, row)
        country, state, zip_code = _COUNTRIES[h % len(_COUNTRIES)]
        return {
            "id": registrant,
            "first_name": first_name,
            "last_name": last_name,
            "email": email,
            "address": f"{1 + h % 999} Example Straße",
            "city": "Zürich" if h % 2 else "São Paulo",
            "country": country,
            "state": state,
            "zip": zip_code,
            "phone": f"555{h % 10_000:04d}",
            "industry": "Software",
            "org": "Exämple Org",
            "job_title": "Engineer",
            "no_of_employees": _EMPLOYEES[h % len(_EMPLOYEES)],
            "purchasing_time_frame": _TIME_FRAMES[h % len(_TIME_FRAMES)],
            "role_in_purchase_process": _ROLES[h % len(_ROLES)],
            "comments": "" if h % 3 else "Looking forward to it — 楽しみです.",
            "custom_questions": custom_questions,
            "status": status,
            "create_time": zoom_time(
                self.start_time - timedelta(days=1 + h % 20, seconds=h % 86_400)
            ),
            "join_url": f"https://example.zoom.us/w/{self.id}?tk={registrant}",
        }

    def absentees_page(self, offset: int, limit: int) -> list[dict[str, Any]]:
        return [self.absentee(i) for i in range(offset, min(offset + limit, self.absentees))]

    def iter_absentees(self) -> Iterator[dict[str, Any]]:
        return (self.absentee(i) for i in range(self.absentees))

    def qa(self) -> list[dict[str, Any]]:
        """The `questions` array of the Q&A endpoint: questions grouped by asker."""
        grouped: dict[tuple[str, str], list[dict[str, str]]] = {}
        for q in range(self.questions):
            h = digest(self.seed, "qa", q)
            if self.persons == 0 or h % 5 == 0:
                key = (ANONYMOUS_NAME, "")
            else:
                who = person(self.seed, (h >> 8) % self.persons)
                key = (who.name, who.email)
            detail = {
                "question": f"{_QUESTIONS[q % len(_QUESTIONS)]} (#{q + 1})",
                "answer": _ANSWERS[h % 3],
            }
            grouped.setdefault(key, []).append(detail)
        return [{"name": n, "email": e, "question_details": d} for (n, e), d in grouped.items()]

    def poll_results(self) -> list[dict[str, Any]]:
        """The `questions` array of the polls endpoint: every respondent's answers to every poll."""
        respondents = min(self.persons, self.poll_respondents)
        results: list[dict[str, Any]] = []
        for r in range(respondents if self.polls else 0):
            who = person(self.seed, r * self.persons // respondents)
            details: list[dict[str, str]] = []
            for k in range(self.polls):
                h = digest(self.seed, "poll", k, r)
                if h % 5 == 0:  # did not answer this poll
                    continue
                answered = self.start_time + timedelta(seconds=600 + 300 * k + r)
                for j in range(2 + k % 2):
                    choice = _CHOICES[(h >> (4 * j)) % len(_CHOICES)]
                    if j == 1:  # a multiple-choice question: Zoom joins the choices with ';'
                        choice = f"{choice};{_CHOICES[(h >> 20) % len(_CHOICES)]}"
                    details.append(
                        {
                            "answer": choice,
                            "date_time": zoom_time(answered),
                            "polling_id": zoom_id(self.seed, "poll", k),
                            "question": f"{_POLL_QUESTIONS[j]} (poll {k + 1})",
                        }
                    )
            if details:
                results.append({"name": who.name, "email": who.email, "question_details": details})
        return results

    @cached_property
    def total_minutes(self) -> int:
        seconds: int = sum(self.participant(i)["duration"] for i in range(self.participants))
        return seconds // 60

    def details(self) -> dict[str, Any]:
        """The body of `GET /past_meetings/{meetingId}`."""
        return {
            "id": self.id,
            "uuid": self.uuid,
            "duration": self.duration_minutes,
            "start_time": zoom_time(self.start_time),
            "end_time": zoom_time(self.end_time),
            "host_id": self.host.get("id", ""),
            "dept": "Developers",
            "participants_count": self.persons,
            "source": "Zoom",
            "topic": self.topic,
            "total_minutes": self.total_minutes,
            "type": 2,  # a scheduled meeting
            "user_email": self.host.get("email", ""),
            "user_name": self.host.get("name", ""),
            "has_meeting_summary": False,
        }
