"""Recording downloads through the queue: the embedded default runs them on their own worker
threads, and a restart's recovery sweep enqueues the downloads whose messages were lost."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from service.devtools.fakezoom import RunningFake
from service.queue.actors import RECORDINGS_QUEUE
from tests.conftest import MakeRuntime
from tests.processing.test_downloads import SIZES, VIDEO, event, jobs, serve_files
from tests.support import signed_headers, wait_until


def all_done(runtime: Any) -> bool:
    found = jobs(runtime)
    return len(found) == len(SIZES) and all(j["status"] == "done" for j in found.values())


def test_the_embedded_worker_downloads_on_its_own_queue(
    make_runtime: MakeRuntime, zoom_settings: dict[str, Any], fake_zoom: RunningFake, tmp_path: Path
) -> None:
    root = tmp_path / "recordings"
    runtime = make_runtime(**zoom_settings, recordings_storage=root.as_uri())
    assert runtime.actors.download_queues == {f"{runtime.settings.queue_prefix}.{RECORDINGS_QUEUE}"}
    assert not runtime.actors.download_queues & runtime.actors.queues
    serve_files(fake_zoom.fake)
    runtime.start_embedded()
    body = event(fake_zoom, token=fake_zoom.fake.recording_files.mint_token())
    assert runtime.ingestor.ingest(body, signed_headers(body)).inbox_id is not None  # type: ignore[union-attr]
    wait_until(lambda: all_done(runtime), timeout=30)
    assert runtime.worker_problems() == []
    stored = {p.name: p.stat().st_size for p in root.rglob("*") if p.is_file()}
    assert stored == {f"{f}.{'mp4' if f == VIDEO else 'm4a'}": size for f, size in SIZES.items()}


def test_a_restart_enqueues_the_downloads_whose_messages_were_lost(
    make_runtime: MakeRuntime, zoom_settings: dict[str, Any], fake_zoom: RunningFake, tmp_path: Path
) -> None:
    settings = {**zoom_settings, "recordings_storage": (tmp_path / "recordings").as_uri()}
    first = make_runtime(**settings)
    serve_files(fake_zoom.fake)
    body = event(fake_zoom, token=fake_zoom.fake.recording_files.mint_token())
    accepted = first.ingestor.ingest(body, signed_headers(body))
    first.processor.process(accepted.inbox_id)  # type: ignore[union-attr]
    assert {j["status"] for j in jobs(first).values()} == {"pending"}
    first.close()  # its in-memory queue, with the download messages, is gone
    second = make_runtime(**settings)
    second.start_embedded()
    wait_until(lambda: all_done(second), timeout=30)
    assert fake_zoom.fake.recording_files.count() == len(SIZES)
