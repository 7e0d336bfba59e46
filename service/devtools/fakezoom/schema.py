"""A validator for the subset of JSON Schema that Zoom's OpenAPI document uses.

Keywords checked: `type`, `properties`, `required`, `items`, `enum`, `maximum`, `minimum`,
`maxLength`, `maxItems`, `pattern`, `oneOf`, and `format: date-time` (Zoom's real wire format,
`2019-02-01T12:34:12Z`, optionally with fractional seconds). Other formats (`email`, the spec's
odd `format: string`) are not checked: Zoom itself sends `""` where the spec says `email`.
Additional properties are allowed, as the spec never forbids them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

_DATE_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?Z$")


def _type_ok(expected: str, value: Any) -> bool:
    # bool is an int subclass in Python but not a JSON integer.
    match expected:
        case "object":
            return isinstance(value, dict)
        case "array":
            return isinstance(value, list)
        case "string":
            return isinstance(value, str)
        case "integer":
            return isinstance(value, int) and not isinstance(value, bool)
        case "number":
            return isinstance(value, int | float) and not isinstance(value, bool)
        case "boolean":
            return isinstance(value, bool)
        case "null":
            return value is None
    return True


def validate(schema: Mapping[str, Any], value: Any, where: str = "$") -> list[str]:
    """Every way `value` breaks `schema`, each as `"<json path>: <problem>"`; `[]` if valid."""
    if "oneOf" in schema:
        matches = sum(1 for sub in schema["oneOf"] if not validate(sub, value, where))
        if matches != 1:
            return [f"{where}: matches {matches} of the oneOf schemas, not exactly 1"]
    expected = schema.get("type")
    if isinstance(expected, str) and not _type_ok(expected, value):
        return [f"{where}: expected {expected}, got {type(value).__name__} {value!r:.60}"]
    errors: list[str] = []
    if "enum" in schema and value not in schema["enum"]:
        errors.append(f"{where}: {value!r:.60} not in enum {schema['enum']!r:.120}")
    if isinstance(value, int | float) and not isinstance(value, bool):
        if "maximum" in schema and value > schema["maximum"]:
            errors.append(f"{where}: {value} > maximum {schema['maximum']}")
        if "minimum" in schema and value < schema["minimum"]:
            errors.append(f"{where}: {value} < minimum {schema['minimum']}")
    if isinstance(value, str):
        errors.extend(_string_errors(schema, value, where))
    if isinstance(value, dict):
        errors.extend(_object_errors(schema, value, where))
    if isinstance(value, list):
        if "maxItems" in schema and len(value) > schema["maxItems"]:
            errors.append(f"{where}: {len(value)} items > maxItems {schema['maxItems']}")
        items = schema.get("items")
        if isinstance(items, Mapping):
            for index, item in enumerate(value):
                errors.extend(validate(items, item, f"{where}[{index}]"))
    return errors


def _string_errors(schema: Mapping[str, Any], value: str, where: str) -> list[str]:
    errors: list[str] = []
    if "maxLength" in schema and len(value) > schema["maxLength"]:
        errors.append(f"{where}: length {len(value)} > maxLength {schema['maxLength']}")
    if "pattern" in schema and re.search(schema["pattern"], value) is None:
        errors.append(f"{where}: {value!r:.60} does not match {schema['pattern']!r}")
    if schema.get("format") == "date-time" and not _DATE_TIME.match(value):
        errors.append(f"{where}: {value!r:.60} is not a Zoom date-time (YYYY-MM-DDTHH:MM:SSZ)")
    return errors


def _object_errors(schema: Mapping[str, Any], value: dict[str, Any], where: str) -> list[str]:
    errors = [
        f"{where}: missing required {name!r}"
        for name in schema.get("required", ())
        if name not in value
    ]
    for name, sub in schema.get("properties", {}).items():
        if name in value:
            errors.extend(validate(sub, value[name], f"{where}.{name}"))
    return errors
