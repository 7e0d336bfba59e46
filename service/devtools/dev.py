"""`zoomhooks dev`: the embedded service wired to a local fake Zoom, to see the whole flow.

The fake holds the webinar and meeting that the bundled `*.ended` samples name, so
`zoomhooks send webinar.ended` fills every table without a Zoom account.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from service.devtools.fakezoom import (
    DEFAULT_ACCOUNT_ID,
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    FakeZoom,
    RunningFake,
    running,
)
from service.devtools.send import load

DEV_SECRET = "zoomhooks-dev-secret"  # noqa: S105 - for a local fake, printed to the user
DEV_DATABASE_URL = "sqlite:///data/dev.sqlite3"
#: The sample webinar's size: big enough to page, small enough to finish in a blink.
DEFAULT_PARTICIPANTS = 650


def fake_with_samples(participants: int = DEFAULT_PARTICIPANTS) -> FakeZoom:
    fake = FakeZoom()
    for kind in ("webinar", "meeting"):
        obj = load(f"{kind}.ended")["payload"]["object"]
        ident, uuid = int(obj["id"]), str(obj["uuid"])
        if kind == "webinar":
            fake.world.add_webinar(
                ident, uuid=uuid, participants=participants, absentees=25, questions=6, polls=2
            )
        else:
            fake.world.add_meeting(
                ident, uuid=uuid, participants=participants // 3, questions=3, polls=1
            )
    return fake


@contextmanager
def fake_zoom(participants: int = DEFAULT_PARTICIPANTS) -> Iterator[RunningFake]:
    with running(fake_with_samples(participants)) as server:
        yield server


def settings_overrides(server: RunningFake, explicit: set[str]) -> dict[str, Any]:
    """Point Zoom at the fake and drop the waits; keep what the user set explicitly."""
    values: dict[str, Any] = {
        "ZOOM_ACCOUNT_ID": DEFAULT_ACCOUNT_ID,
        "ZOOM_CLIENT_ID": DEFAULT_CLIENT_ID,
        "ZOOM_CLIENT_SECRET": DEFAULT_CLIENT_SECRET,
        "ZOOM_API_BASE_URL": server.api_url,
        "ZOOM_OAUTH_URL": server.oauth_url,
        "ZOOMHOOKS_FOLLOWUP_DELAY_SECONDS": 0,
        "ZOOMHOOKS_NOT_READY_RETRY_SECONDS": 1,
    }
    if "webhook_secret_token" not in explicit:
        values["ZOOM_WEBHOOK_SECRET_TOKEN"] = DEV_SECRET
    if "database_url" not in explicit:
        values["DATABASE_URL"] = DEV_DATABASE_URL
    return values
