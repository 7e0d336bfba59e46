"""`zoomhooks erase`: one person's rows everywhere, by address or Zoom user id, and nobody
else's (not even an address that ends like theirs)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, insert, select, update

from service.ops import erase
from service.runtime import Runtime
from service.storage.models import (
    instance_details,
    participant_events,
    qa_entries,
    recordings,
    registrant_answers,
    registrants,
    report_participants,
    webhook_events,
)
from tests.ops.populate import Cli, processed


def joined(uuid: str, n: int, email: str, user_id: str | None = None) -> dict[str, Any]:
    person = {
        "id": user_id or f"p{n}",
        "user_id": str(n),
        "user_name": f"Zoë {n}",
        "email": email,
        "join_time": "2024-03-01T14:05:00Z",
    }
    return {"id": "86431910364", "uuid": uuid, "participant": person}


def timeline_emails(runtime: Runtime) -> list[str]:
    with runtime.engine.connect() as conn:
        return sorted(conn.execute(select(participant_events.c.email)).scalars())


def inbox_ids(runtime: Runtime) -> list[int]:
    with runtime.engine.connect() as conn:
        return sorted(conn.execute(select(webhook_events.c.id)).scalars())


def question(runtime: Runtime, email: str) -> None:
    with runtime.engine.begin() as conn:
        conn.execute(
            insert(qa_entries).values(
                instance_uuid="e==", row_key=email, email=email, question="why?", data="{}"
            )
        )


def questions(runtime: Runtime) -> int:
    with runtime.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(qa_entries)).scalar_one())


def test_erase_removes_one_person_everywhere_and_nobody_else(cli: Cli, runtime: Runtime) -> None:
    mine = processed(runtime, "meeting.participant_joined", joined("e==", 1, "Zoe@Example.com"))
    other = processed(runtime, "meeting.participant_joined", joined("e==", 2, "bo@example.com"))
    dry = cli.json(erase, "--email", "zoe@example.com", "--dry-run")
    assert dry["rows"]["participant_events"] == 1 and dry["rows"]["webhook_events"] == 1
    assert dry["rows"]["actions"] == 0
    assert len(timeline_emails(runtime)) == 2

    cli.json(erase, "--email", "zoe@example.com")
    assert timeline_emails(runtime) == ["bo@example.com"]
    assert inbox_ids(runtime) == [other] and mine not in inbox_ids(runtime)


def test_erase_leaves_an_address_that_only_ends_like_theirs(cli: Cli, runtime: Runtime) -> None:
    """`bo@example.com` is inside `jimbo@example.com`: Jimbo's event is not Bo's."""
    bo = processed(runtime, "meeting.participant_joined", joined("e==", 1, "bo@example.com"))
    jimbo = processed(runtime, "meeting.participant_joined", joined("e==", 2, "jimbo@example.com"))
    found = cli.json(erase, "--email", "bo@example.com")
    assert found["rows"]["webhook_events"] == 1 and found["rows"]["participant_events"] == 1
    assert inbox_ids(runtime) == [jimbo] and bo not in inbox_ids(runtime)
    assert timeline_emails(runtime) == ["jimbo@example.com"]


def test_erase_by_zoom_user_id_takes_the_rows_of_their_address_too(
    cli: Cli, runtime: Runtime
) -> None:
    """Q&A rows name people by address only: the user id's rows give the address."""
    theirs = joined("e==", 1, "zoe@example.com", user_id="iFxeBPYun6SAiWUzBcEkX")
    mine = processed(runtime, "meeting.participant_joined", theirs)
    other = processed(runtime, "meeting.participant_joined", joined("e==", 2, "bo@example.com"))
    question(runtime, "zoe@example.com")
    question(runtime, "bo@example.com")

    dry = cli.json(erase, "--user-id", "iFxeBPYun6SAiWUzBcEkX", "--dry-run")
    assert dry["emails"] == ["zoe@example.com"]
    assert dry["rows"]["qa_entries"] == 1 and dry["rows"]["webhook_events"] == 1
    assert questions(runtime) == 2

    cli.json(erase, "--user-id", "iFxeBPYun6SAiWUzBcEkX")
    assert inbox_ids(runtime) == [other] and mine not in inbox_ids(runtime)
    assert timeline_emails(runtime) == ["bo@example.com"] and questions(runtime) == 1
    shown = cli(erase, "--user-id", "iFxeBPYun6SAiWUzBcEkX", "--dry-run")
    assert shown.exit_code == 0 and "would delete 0 rows" in shown.stdout


def test_erase_refuses_what_is_not_an_address(cli: Cli) -> None:
    result = cli(erase, "--email", "%")
    assert result.exit_code == 2 and "not an e-mail address" in result.output


def test_erase_needs_someone_to_erase(cli: Cli) -> None:
    result = cli(erase)
    assert result.exit_code == 2 and "--email ADDRESS and/or --user-id ID" in result.output


def test_erase_takes_a_hosts_recordings_with_their_files_and_downloads(
    cli: Cli, runtime: Runtime
) -> None:
    from tests.ops.test_retention import recording, recording_rows

    recording(runtime, "theirs==", days_ago=1, download="done")
    recording(runtime, "other==", days_ago=1, download="done")
    with runtime.engine.begin() as conn:
        conn.execute(
            update(recordings)
            .where(recordings.c.uuid == "theirs==")
            .values(host_email="Host@Example.com", host_id="HOSTID")
        )
        conn.execute(
            update(recordings)
            .where(recordings.c.uuid == "other==")
            .values(host_email="else@example.com")
        )
    one_each = {"recordings": 1, "recording_files": 1, "recording_downloads": 1}
    dry = cli.json(erase, "--email", "host@example.com", "--dry-run")
    assert {k: dry["rows"][k] for k in one_each} == one_each
    found = cli.json(erase, "--user-id", "HOSTID")
    assert {k: found["rows"][k] for k in one_each} == one_each
    assert recording_rows(runtime) == one_each


def test_erase_takes_registrants_their_answers_and_report_rows(cli: Cli, runtime: Runtime) -> None:
    for n, email in enumerate(("Zoe@Example.com", "bo@example.com")):
        registrant = {
            "id": f"r{n}",
            "email": email,
            "first_name": "Zoë",
            "custom_questions": [{"title": "Why?", "value": f"because {n}"}],
        }
        processed(
            runtime, "webinar.registration_created", {"id": 81234567890, "registrant": registrant}
        )
    with runtime.engine.begin() as conn:
        for n, (email, user) in enumerate((("zoe@example.com", "u0"), ("bo@example.com", "u1"))):
            conn.execute(
                insert(report_participants).values(
                    instance_uuid="e==", row_key=str(n), user_email=email, id=user
                )
            )
        conn.execute(
            insert(instance_details).values(
                instance_uuid="e==", host_email="ZOE@example.com", data="{}"
            )
        )
    dry = cli.json(erase, "--email", "zoe@example.com", "--dry-run")
    expected = {
        "registrants": 1,
        "registrant_answers": 1,
        "report_participants": 1,
        "instance_details": 1,
    }
    assert {k: dry["rows"][k] for k in expected} == expected
    cli.json(erase, "--email", "zoe@example.com")
    with runtime.engine.connect() as conn:
        assert conn.execute(select(registrants.c.id)).scalars().all() == ["r1"]
        assert conn.execute(select(registrant_answers.c.registrant_id)).scalars().all() == ["r1"]
        assert conn.execute(select(report_participants.c.id)).scalars().all() == ["u1"]
        assert conn.execute(select(func.count()).select_from(instance_details)).scalar() == 0
    # By Zoom user id: the report row of that participant goes too.
    cli.json(erase, "--user-id", "u1")
    with runtime.engine.connect() as conn:
        assert conn.execute(select(report_participants.c.id)).scalars().all() == []
