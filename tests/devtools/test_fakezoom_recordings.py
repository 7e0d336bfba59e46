"""The fake's `GET /meetings/{meetingId}/recordings` over real HTTP: meetings and webinars, by
UUID and number, Zoom's UUID encoding, 3301, the schema, download tokens, faults and scopes."""

from __future__ import annotations

import httpx
import pytest

from service.devtools.fakezoom import FakeZoom, ManualClock, encode_path_id
from service.devtools.fakezoom.recfiles import content
from service.devtools.fakezoom.recordings import DEFAULT_FILE_TYPES

DOUBLE = "/Zm9vYmFy//YmF6cXV4eg=="  # begins with '/' and contains '//'


def recordings(api: httpx.Client, ident: str | int, **params: str | int) -> httpx.Response:
    return api.get(f"/meetings/{encode_path_id(ident)}/recordings", params=params)


def test_a_meeting_and_a_webinar_recording_by_uuid_and_number(
    fake: FakeZoom, api: httpx.Client
) -> None:
    meeting = fake.world.add_meeting(11, DOUBLE, participants=2)
    webinar = fake.world.add_webinar(22, participants=2)
    later = fake.world.add_webinar(22, participants=1)
    fake.world.add_recording(meeting, ("MP4", "TRANSCRIPT", "CC"), participant_audio=2)
    fake.world.add_recording(webinar)
    fake.world.add_recording(later, ("M4A",))
    body = recordings(api, DOUBLE).json()
    assert (body["uuid"], body["id"], body["type"]) == (DOUBLE, 11, "2")
    assert [f["file_type"] for f in body["recording_files"]] == ["MP4", "TRANSCRIPT", "CC"]
    assert len(body["participant_audio_files"]) == 2
    assert body["recording_count"] == 5
    cc = body["recording_files"][2]
    assert not {"id", "status", "file_size", "recording_type", "play_url"} & set(cc)
    recording = fake.world.recording(DOUBLE)
    assert recording is not None
    assert body["total_size"] == sum(f.size for f in recording.files)
    assert recordings(api, webinar.uuid).json()["type"] == "5"
    # A number answers for its latest instance, as the spec says.
    by_number = recordings(api, 22).json()
    assert by_number["uuid"] == later.uuid
    assert [f["file_type"] for f in by_number["recording_files"]] == ["M4A"]
    assert "participant_audio_files" not in by_number
    assert "download_access_token" not in by_number


def test_no_recording_unknown_ids_and_under_encoded_uuids_are_3301(
    fake: FakeZoom, api: httpx.Client
) -> None:
    fake.world.add_meeting(11, DOUBLE, participants=2)
    bare = fake.world.add_meeting(12, participants=2)
    fake.world.add_recording(fake.world.meeting(DOUBLE))
    expected = {"code": 3301, "message": "There is no recording for this meeting."}
    for ident in (bare.uuid, 12, 99, "nope=="):
        answer = recordings(api, ident)
        assert (answer.status_code, answer.json()) == (404, expected), ident
    once = api.get("/meetings/%2FZm9vYmFy%2F%2FYmF6cXV4eg%3D%3D/recordings")
    assert (once.status_code, once.json()["code"]) == (404, 3301)
    assert "encoded twice" in once.json()["fakezoom_hint"]
    assert fake.calls("recordingGet", status=404) == 5


def test_the_body_and_errors_match_the_spec_and_carry_the_light_category(
    fake: FakeZoom, api: httpx.Client
) -> None:
    inst = fake.world.add_meeting(11, DOUBLE, participants=2)
    fake.world.add_recording(inst, ("MP4", "M4A", "TRANSCRIPT", "CHAT", "CSV", "SUMMARY", "CC"))
    asks: list[dict[str, str | int]] = [{}, {"include_fields": "download_access_token", "ttl": 600}]
    for params in asks:
        answer = recordings(api, DOUBLE, **params)
        assert answer.status_code == 200
        assert fake.spec.validate_response("recordingGet", answer.json()) == []
        assert answer.headers["x-ratelimit-category"] == "Light"
    assert fake.spec.operation("recordingGet").category == "Light"
    bad = recordings(api, DOUBLE, ttl=604801)  # above the spec's maximum
    assert bad.status_code == 400 and bad.json()["fakezoom"]["reason"] == "bad_query_value"


def test_files_download_with_the_access_token_until_its_ttl(
    fake: FakeZoom, api: httpx.Client, clock: ManualClock
) -> None:
    inst = fake.world.add_webinar(22, participants=1)
    fake.world.add_recording(inst, ("MP4",), sizes={"MP4": 70_000})
    body = recordings(api, inst.uuid, include_fields="download_access_token", ttl=60).json()
    (video,) = body["recording_files"]
    token = {"access_token": body["download_access_token"]}
    got = httpx.get(video["download_url"], params=token)
    assert got.status_code == 200
    assert got.content == content(video["id"], 0, 70_000)
    bearer = {"Authorization": f"Bearer {fake.issue_token()}", "Range": "bytes=69000-"}
    assert httpx.get(video["download_url"], headers=bearer).status_code == 206
    fake.recording_files.cut_next(video["id"], 10)  # world files take the download faults too
    clock.advance(61)
    assert httpx.get(video["download_url"], params=token).status_code == 401


@pytest.mark.parametrize("fault", ["rate_limit", "server_error", "permission"])
def test_faults_hit_the_endpoint_like_any_other(
    fake: FakeZoom, api: httpx.Client, fault: str
) -> None:
    inst = fake.world.add_meeting(11, participants=1)
    fake.world.add_recording(inst)
    path = "/v2/meetings/{meetingId}/recordings"
    if fault == "rate_limit":
        fake.faults.rate_limit(path, count=1)
        limited = recordings(api, inst.uuid)
        assert limited.status_code == 429
        assert limited.headers["X-RateLimit-Category"] == "Light"
    elif fault == "server_error":
        fake.faults.server_error(path=path, status=503)
        assert recordings(api, inst.uuid).status_code == 503
    else:
        fake.faults.permission(path=path, code=4711)
        refused = recordings(api, inst.uuid)
        assert (refused.status_code, refused.json()["code"]) == (400, 4711)
        assert "recording:read" in refused.json()["message"]
        fake.faults.clear()
    assert recordings(api, inst.uuid).status_code == 200


def test_withheld_recording_scopes_answer_4711_naming_the_spec_scopes(
    fake: FakeZoom, api: httpx.Client
) -> None:
    inst = fake.world.add_meeting(11, participants=1)
    fake.world.add_recording(inst)
    fake.withheld_scopes = frozenset(fake.spec.operation("recordingGet").scopes)
    refused = recordings(api, inst.uuid)
    assert (refused.status_code, refused.json()["code"]) == (400, 4711)
    assert "recording:read" in refused.json()["message"]
    assert api.get(f"/past_meetings/{encode_path_id(inst.uuid)}").status_code == 200


def test_a_recording_needs_an_instance_of_the_world_and_known_types(fake: FakeZoom) -> None:
    inst = fake.world.add_meeting(11, participants=1)
    with pytest.raises(ValueError, match="unknown recording file types"):
        fake.world.add_recording(inst, ("MOV",))
    fake.world.add_recording(inst)
    with pytest.raises(ValueError, match="already has a recording"):
        fake.world.add_recording(inst)
    fake.world.clear()
    with pytest.raises(ValueError, match="not in this world"):
        fake.world.add_recording(inst)


def test_the_control_api_adds_an_instance_with_a_recording(
    fake: FakeZoom, http: httpx.Client, api: httpx.Client
) -> None:
    made = http.post("/_fake/world/meetings", json={"meeting_id": 5, "recording": ["MP4"]})
    assert made.status_code == 201, made.text
    assert made.json()["recording_files"] == ["MP4"]
    default = http.post("/_fake/world/webinars", json={"webinar_id": 6, "recording": True})
    assert default.json()["recording_files"] == list(DEFAULT_FILE_TYPES)
    assert recordings(api, 5).json()["recording_files"][0]["file_type"] == "MP4"
    bad = http.post("/_fake/world/meetings", json={"meeting_id": 7, "recording": ["MOV"]})
    assert bad.status_code == 400 and "unknown recording file types" in bad.text
    assert fake.world.instances("meeting", 7) == []
