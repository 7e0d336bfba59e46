"""The dedupe key: one per logical event, stable across Zoom's redeliveries, distinct otherwise."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from service.webhooks.dedupe import KEY_LENGTH, VOLATILE_KEYS, dedupe_key
from service.webhooks.events import EventError, parse
from tests.support import WEBHOOKS, compact, real_captures, webhook_fixtures

RECORDING = WEBHOOKS / "recording.completed.json"
JOINED = WEBHOOKS / "meeting.participant_joined.json"

JsonPath = tuple[str | int, ...]


def load(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def key_of(body: bytes) -> str:
    """As the ingestor computes it: from the parsed body."""
    return dedupe_key(parse(body).data)


def leaves(value: Any, path: JsonPath = ()) -> Iterator[tuple[JsonPath, Any]]:
    if isinstance(value, dict):
        for k, v in value.items():
            yield from leaves(v, (*path, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from leaves(v, (*path, i))
    else:
        yield path, value


def with_leaf_changed(data: dict[str, Any], path: JsonPath) -> dict[str, Any]:
    """A deep copy of `data` with the leaf at `path` given another value."""
    result = copy.deepcopy(data)
    parent: Any = result
    for step in path[:-1]:
        parent = parent[step]
    parent[path[-1]] = changed(parent[path[-1]])
    return result


def changed(value: Any) -> Any:
    """A different value of the same JSON type where possible."""
    if isinstance(value, bool):
        return not value
    if isinstance(value, int | float):
        return value + 1
    if isinstance(value, str):
        return value + "x"
    return "now-set"


def reorder(value: Any) -> Any:
    """The same JSON with every object's keys in reverse order."""
    if isinstance(value, dict):
        return {k: reorder(value[k]) for k in reversed(list(value))}
    if isinstance(value, list):
        return [reorder(v) for v in value]
    return value


def test_key_is_hex_sha256() -> None:
    key = dedupe_key(load(JOINED))
    assert len(key) == KEY_LENGTH == 64
    assert int(key, 16) >= 0
    assert key == key.lower()


# --- redelivery: same key ------------------------------------------------------------------


@pytest.mark.parametrize("path", webhook_fixtures() + real_captures(), ids=lambda p: p.stem)
def test_reordered_keys_same_key(path: Path) -> None:
    data = load(path)
    again = reorder(data)
    assert json.dumps(again) != json.dumps(data)
    assert dedupe_key(again) == dedupe_key(data)


@pytest.mark.parametrize("path", real_captures(), ids=lambda p: p.stem)
def test_payload_first_and_event_first_bodies_same_key(path: Path) -> None:
    data = load(path)
    event_first = {"event": data["event"], "event_ts": data["event_ts"], **data}
    payload_first = {"payload": data["payload"], **data}
    first = json.dumps(event_first, separators=(",", ":"), ensure_ascii=False).encode()
    second = json.dumps(payload_first, separators=(",", ":"), ensure_ascii=False).encode()
    assert first.startswith(b'{"event":')
    assert second.startswith(b'{"payload":')
    assert key_of(first) == key_of(second) == key_of(compact(path))


def test_whitespace_and_escapes_do_not_change_the_key() -> None:
    path = next(p for p in real_captures() if "participant_joined" in p.name)
    wire = compact(path)
    escaped = json.dumps(json.loads(wire), indent=2).encode("ascii")
    assert b"\\u00eb" in escaped
    assert key_of(wire) == key_of(escaped) == key_of(path.read_bytes())


def redelivered_recording(token: str, url_suffix: str) -> dict[str, Any]:
    data = load(RECORDING)
    data["download_token"] = token
    for group in ("recording_files", "participant_audio_files"):
        for item in data["payload"]["object"][group]:
            item["download_url"] = f"{item['download_url']}?access_token={url_suffix}"
    return data


def test_recording_redelivery_with_fresh_download_token_and_urls_same_key() -> None:
    first = redelivered_recording("tokenA", "aaa")
    second = redelivered_recording("tokenB", "bbb")
    assert first != second
    assert dedupe_key(first) == dedupe_key(second) == dedupe_key(load(RECORDING))


def test_recording_download_access_token_is_volatile() -> None:
    first = load(RECORDING)
    second = load(RECORDING)
    first["payload"]["download_access_token"] = "one"
    second["payload"]["download_access_token"] = "two"
    assert dedupe_key(first) == dedupe_key(second)


def test_volatile_keys_are_the_documented_ones() -> None:
    assert {"download_token", "download_url"} <= VOLATILE_KEYS


# --- different events: different keys ------------------------------------------------------


def non_volatile_leaves(data: dict[str, Any]) -> list[JsonPath]:
    return [p for p, _ in leaves(data) if not any(step in VOLATILE_KEYS for step in p)]


@pytest.mark.parametrize(
    "leaf", non_volatile_leaves(load(RECORDING)), ids=lambda p: ".".join(map(str, p))
)
def test_recording_any_other_field_changed_different_key(leaf: JsonPath) -> None:
    original = load(RECORDING)
    assert dedupe_key(with_leaf_changed(original, leaf)) != dedupe_key(original)


@pytest.mark.parametrize(
    "leaf", non_volatile_leaves(load(JOINED)), ids=lambda p: ".".join(map(str, p))
)
def test_participant_any_field_changed_different_key(leaf: JsonPath) -> None:
    original = load(JOINED)
    assert dedupe_key(with_leaf_changed(original, leaf)) != dedupe_key(original)


@pytest.mark.parametrize(
    "mutate",
    [
        pytest.param(lambda d: d.update(event_ts=d["event_ts"] + 1), id="event_ts+1ms"),
        pytest.param(lambda d: d.update(event="meeting.participant_left"), id="event-name"),
        pytest.param(lambda d: d["payload"].update(extra=None), id="new-null-field"),
        pytest.param(lambda d: d["payload"]["object"].pop("timezone"), id="dropped-field"),
        pytest.param(lambda d: d["payload"]["object"].update(id=1234567890), id="id-str-vs-int"),
    ],
)
def test_structural_changes_different_key(mutate: Any) -> None:
    original = load(JOINED)
    data = copy.deepcopy(original)
    mutate(data)
    assert dedupe_key(data) != dedupe_key(original)


@pytest.mark.parametrize(
    "ids",
    [
        {"user_id": "16778241"},
        {"participant_uuid": "66666BBBjBBBBBjBjBjjBjj"},
        {"user_id": "16778241", "participant_uuid": "66666BBBjBBBBBjBjBjjBjj"},
    ],
    ids=["user_id", "participant_uuid", "both"],
)
def test_two_participants_joining_in_the_same_millisecond_different_keys(
    ids: dict[str, str],
) -> None:
    first = load(JOINED)
    second = copy.deepcopy(first)
    second["payload"]["object"]["participant"].update(ids)
    assert first["event_ts"] == second["event_ts"]
    assert dedupe_key(first) != dedupe_key(second)


def test_real_captures_four_distinct_keys() -> None:
    keys = {key_of(compact(p)) for p in real_captures()}
    assert len(real_captures()) == 4
    assert len(keys) == 4


def test_every_fixture_distinct_key() -> None:
    paths = webhook_fixtures() + real_captures()
    assert len({key_of(compact(p)) for p in paths}) == len(paths)


def test_non_ascii_values_distinguish() -> None:
    first = {"event": "x", "payload": {"name": "Zoë"}}
    second = {"event": "x", "payload": {"name": "Zoe"}}
    assert dedupe_key(first) != dedupe_key(second)


@pytest.mark.parametrize("depth", [100, 400, 600, 900])
def test_every_body_parse_accepts_has_a_key(depth: int) -> None:
    """The ingestor computes the key of whatever `parse` accepted; it must not raise."""
    body = b'{"event":"x","payload":{"deep":' + b"[" * depth + b"]" * depth + b"}}"
    try:
        data = parse(body).data
    except EventError:
        return  # rejected up front as a 400: fine
    assert len(dedupe_key(data)) == KEY_LENGTH
