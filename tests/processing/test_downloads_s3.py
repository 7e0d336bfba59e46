"""The S3 backend against a real S3-compatible server (moto's, over HTTP on localhost): a
multipart upload of a file bigger than a part, a cut transfer restarted clean, and an
unreachable endpoint retried with a clear error."""

from __future__ import annotations

import hashlib
import socket
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from moto.server import ThreadedMotoServer

from service.devtools.fakezoom import DEFAULT_ACCOUNT_ID, RunningFake
from service.objectstore import object_key
from service.objectstore.s3 import S3Backend
from service.processing.followup import Later
from service.runtime import Runtime
from tests.conftest import MakeRuntime
from tests.processing.test_downloads import (
    AUDIO,
    SIZES,
    UUID,
    VIDEO,
    digest,
    due_now,
    event,
    jobs,
    run,
    serve_files,
)
from tests.processing.test_live import deliver

BUCKET = "zoomhooks-test"
PREFIX = "rec"
#: S3's smallest part (all but the last): the backend's part size in these tests.
PART = 5 * 1024 * 1024


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch, s3_endpoint: str) -> str:
    """The standard AWS environment boto3 reads: no zoomhooks setting carries credentials."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing-key-id")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing-secret-key")
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3_endpoint)
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    return s3_endpoint


@pytest.fixture
def make(
    make_runtime: MakeRuntime, zoom_settings: dict[str, Any], aws_env: str
) -> Callable[..., Runtime]:
    def build(**overrides: Any) -> Runtime:
        runtime = make_runtime(
            **zoom_settings, recordings_storage=f"s3://{BUCKET}/{PREFIX}/", **overrides
        )
        runner = runtime.download_runner
        assert runner is not None
        assert isinstance(runner.backend, S3Backend)
        runner.backend.part_size = PART
        runner.retry_base = runner.retry_cap = 0.01
        return runtime

    return build


def s3_key(file_id: str, ext: str) -> str:
    return f"{PREFIX}/{object_key(DEFAULT_ACCOUNT_ID, UUID, file_id, ext)}"


def test_a_file_bigger_than_a_part_goes_up_in_parts(
    make: Callable[..., Runtime], fake_zoom: RunningFake
) -> None:
    runtime = make()
    size = 2 * PART + 12_345
    sizes = {**SIZES, VIDEO: size}
    serve_files(fake_zoom.fake, sizes)
    deliver(
        runtime, event(fake_zoom, token=fake_zoom.fake.recording_files.mint_token(), sizes=sizes)
    )
    assert run(runtime, VIDEO) is None
    assert run(runtime, AUDIO) is None  # smaller than a part: one PUT
    s3 = boto3.client("s3")
    for file_id, ext, length in ((VIDEO, "mp4", size), (AUDIO, "m4a", SIZES[AUDIO])):
        body = s3.get_object(Bucket=BUCKET, Key=s3_key(file_id, ext))["Body"].read()
        assert hashlib.sha256(body).hexdigest() == digest(file_id, length)
    job = jobs(runtime)[VIDEO]
    assert (job["status"], job["verified_size"]) == ("done", size)
    assert s3.list_multipart_uploads(Bucket=BUCKET).get("Uploads", []) == []


def test_a_cut_transfer_restarts_clean(
    make: Callable[..., Runtime], fake_zoom: RunningFake
) -> None:
    runtime = make()
    size = PART + 1000
    sizes = {**SIZES, VIDEO: size}
    fake = fake_zoom.fake
    serve_files(fake, sizes)
    fake.recording_files.cut_next(VIDEO, PART + 10)  # after one part went up
    deliver(runtime, event(fake_zoom, token=fake.recording_files.mint_token(), sizes=sizes))
    assert isinstance(run(runtime, VIDEO), Later)
    s3 = boto3.client("s3")
    assert s3.list_multipart_uploads(Bucket=BUCKET).get("Uploads", []) == []
    due_now(runtime)
    assert run(runtime, VIDEO) is None
    assert [d.start for d in fake.recording_files.downloads if d.file_id == VIDEO] == [0, 0]
    body = s3.get_object(Bucket=BUCKET, Key=s3_key(VIDEO, "mp4"))["Body"].read()
    assert hashlib.sha256(body).hexdigest() == digest(VIDEO, size)


def test_an_unreachable_endpoint_is_retried_with_a_clear_error(
    make: Callable[..., Runtime], fake_zoom: RunningFake, monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{closed}")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    runtime = make()
    serve_files(fake_zoom.fake)
    deliver(runtime, event(fake_zoom, token=fake_zoom.fake.recording_files.mint_token()))
    assert isinstance(run(runtime, AUDIO), Later)
    error = jobs(runtime)[AUDIO]["last_error"]
    assert error.startswith(f"storage s3://{BUCKET}/{PREFIX}: cannot list uploads:")
    assert "testing-secret-key" not in error
    assert jobs(runtime)[AUDIO]["status"] == "pending"
