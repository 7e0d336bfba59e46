"""`zoomhooks recordings list` and `retry`: the download jobs, and handing failed ones back."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from service.ops import recordings
from service.runtime import Runtime
from service.storage.models import recording_downloads
from tests.ops.populate import Cli
from tests.ops.test_retention import recording


def jobs(runtime: Runtime) -> dict[str, dict[str, object]]:
    with runtime.engine.connect() as conn:
        rows = conn.execute(select(recording_downloads)).all()
    return {row.file_id: dict(row._mapping) for row in rows}


def test_list_shows_each_download_newest_first(cli: Cli, runtime: Runtime) -> None:
    recording(runtime, "a==", days_ago=1, download="done")
    recording(runtime, "b==", days_ago=1, download="failed")
    rows = cli.json_lines(recordings, "list")
    assert [r["file_id"] for r in rows] == ["file-b==", "file-a=="]
    assert [r["file_id"] for r in cli.json_lines(recordings, "list", "--status", "failed")] == [
        "file-b=="
    ]
    text = cli(recordings, "list").output
    assert "file-a==" in text and "failed" in text


def test_retry_hands_failed_downloads_back_and_leaves_done_ones(
    cli: Cli, runtime: Runtime, tmp_path: Path
) -> None:
    recording(runtime, "a==", days_ago=1, download="done")
    recording(runtime, "b==", days_ago=1, download="failed")
    storage = {"ZOOMHOOKS_RECORDINGS_STORAGE": (tmp_path / "rec").as_uri()}
    refused = cli(recordings, "retry", "--failed", "--yes")
    assert refused.exit_code == 1
    assert "ZOOMHOOKS_RECORDINGS_STORAGE is not set" in refused.output
    done = cli(recordings, "retry", "file-a==", **storage)
    assert done.exit_code == 1 and "is done: nothing to retry" in done.output
    found = cli.json(recordings, "retry", "--failed", "--yes", **storage)
    assert found["mode"] == "embedded" and len(found["reset"]) == 1
    after = jobs(runtime)
    assert (after["file-b=="]["status"], after["file-b=="]["attempts"]) == ("pending", 0)
    assert after["file-a=="]["status"] == "done"
