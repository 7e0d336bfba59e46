"""Database errors never carry the statement's values into exception texts, rows or logs."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, select, text
from sqlalchemy.exc import SQLAlchemyError

from service.devtools.fakezoom import RunningFake
from service.processing.followup import FollowupRunner
from service.storage import db, migrate
from service.storage.errors import describe
from service.storage.models import followups
from service.storage.tokens import DatabaseTokenStore
from service.zoom.tokens import StoredToken
from tests.conftest import MakeRuntime

pytestmark = pytest.mark.postgres

TOKEN = "eyJ-SECRET-ACCESS-TOKEN-4f1c2e9a"

REFUSE_TOKENS = """
CREATE FUNCTION refuse_tokens() RETURNS trigger AS $$
BEGIN RAISE EXCEPTION 'token store refused the write'; END $$ LANGUAGE plpgsql;
CREATE TRIGGER refuse_tokens BEFORE UPDATE ON zoom_tokens
FOR EACH ROW WHEN (NEW.access_token IS NOT NULL) EXECUTE FUNCTION refuse_tokens();
"""


@pytest.fixture
def refusing(postgres_url: str) -> Iterator[Engine]:
    """A database that fails every save of an access token (a real server-side error)."""
    engine = db.create(postgres_url)
    migrate.upgrade(engine)
    with engine.begin() as conn:
        conn.execute(text(REFUSE_TOKENS))
    yield engine
    engine.dispose()


def test_a_failed_token_save_does_not_show_the_token(refusing: Engine) -> None:
    store = DatabaseTokenStore(refusing)
    assert store.acquire_lease("acct", "me", now=0.0, until=1e12)
    with pytest.raises(SQLAlchemyError) as raised:
        store.save("acct", "me", StoredToken(access_token=TOKEN, expires_at=1e12))
    assert TOKEN not in str(raised.value)
    assert "hide_parameters" in str(raised.value)
    assert describe(raised.value).endswith("Error: token store refused the write")


def test_a_follow_up_failing_on_the_token_store_records_no_token(
    make_runtime: MakeRuntime,
    zoom_settings: dict[str, Any],
    fake_zoom: RunningFake,
    postgres_url: str,
    refusing: Engine,
    caplog: pytest.LogCaptureFixture,
) -> None:
    from tests.processing.test_followups import WEBINAR_ID, created_job

    runtime = make_runtime(**zoom_settings, database_url=postgres_url)
    inst = fake_zoom.fake.world.add_webinar(WEBINAR_ID, participants=5)
    job = created_job(runtime, "webinar", inst, "participants")
    issued: list[str] = []
    original = fake_zoom.fake.access_tokens.issue

    def remember(*args: Any, **kwargs: Any) -> Any:
        token = original(*args, **kwargs)
        issued.append(token.value)
        return token

    fake_zoom.fake.access_tokens.issue = remember  # type: ignore[method-assign]
    runner: FollowupRunner = runtime.runner
    caplog.set_level(logging.DEBUG)
    runner.run(job)
    with runtime.engine.connect() as conn:
        error = conn.execute(
            select(followups.c.last_error).where(followups.c.id == job)
        ).scalar_one()
    assert issued, "the fake issued a token"
    assert error is not None and "token store refused the write" in error
    for token in issued:
        assert token not in error
        assert token not in caplog.text
