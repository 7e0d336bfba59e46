"""The runbook's scope table says what the client's endpoint data says."""

from __future__ import annotations

from pathlib import Path

from service.zoom.endpoints import ENDPOINTS

OPERATIONS = Path(__file__).parents[2] / "docs" / "operations.md"
#: Offered by the client, not called by any zoomhooks command or job.
UNUSED = {"past_meeting"}


def test_every_scope_the_client_needs_is_in_the_runbook() -> None:
    text = OPERATIONS.read_text(encoding="utf-8")
    for endpoint in ENDPOINTS:
        if endpoint.name in UNUSED:
            continue
        for scope in (*endpoint.granular_scopes, endpoint.scopes[0]):
            assert f"`{scope}`" in text, f"{endpoint.name}: {scope} missing from operations.md"
