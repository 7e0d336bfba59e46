from __future__ import annotations

from urllib.parse import unquote

import pytest
from hypothesis import given
from hypothesis import strategies as st

from service.zoom.ids import encode_path_id, is_numeric_id, needs_double_encoding


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        # Zoom's documented example of a UUID that must be double-encoded.
        ("/ajXp112QmuoKj4854875==", "%252FajXp112QmuoKj4854875%253D%253D"),
        ("abc//def==", "abc%252F%252Fdef%253D%253D"),
        ("Bznyg8KZTdCVbQxvS/oZ7w==", "Bznyg8KZTdCVbQxvS%2FoZ7w%3D%3D"),
        ("4444AAAiAAAAAiAiAiiAii==", "4444AAAiAAAAAiAiAiiAii%3D%3D"),
        ("Dkgwu8nm/ExG1vM+GhLRhA==", "Dkgwu8nm%2FExG1vM%2BGhLRhA%3D%3D"),
        ("93398114182", "93398114182"),
        (93398114182, "93398114182"),
        (0, "0"),
    ],
)
def test_encode_path_id(value: int | str, expected: str) -> None:
    assert encode_path_id(value) == expected


def test_encoded_segments_never_contain_a_slash() -> None:
    assert "/" not in encode_path_id("//a/b//")


@pytest.mark.parametrize("bad", ["", -1])
def test_empty_or_negative_ids_are_refused(bad: int | str) -> None:
    with pytest.raises(ValueError, match="meeting/webinar ID"):
        encode_path_id(bad)


@pytest.mark.parametrize("bad", [True, 1.5, None, b"123"])
def test_other_types_are_refused(bad: object) -> None:
    with pytest.raises(TypeError):
        encode_path_id(bad)  # type: ignore[arg-type]


def test_is_numeric_id() -> None:
    assert is_numeric_id(5) and is_numeric_id("123")
    assert not is_numeric_id("12a") and not is_numeric_id("") and not is_numeric_id(True)
    assert not is_numeric_id("١٢٣")  # Arabic-Indic digits are not a Zoom ID


BASE64 = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=")


@given(BASE64.filter(bool))
def test_zoom_decoding_recovers_the_uuid(uuid: str) -> None:
    segment = encode_path_id(uuid)
    assert "/" not in segment
    decoded = unquote(segment)
    if needs_double_encoding(uuid) and not is_numeric_id(uuid):
        # After the gateway's first decode the segment still carries no slash.
        assert "/" not in decoded
        decoded = unquote(decoded)
    assert decoded == uuid
