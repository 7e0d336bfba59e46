"""Zoom's OpenAPI document (a 2023 subset, see PROVENANCE.md): routing and request validation.

The fake routes every `/v2/...` request through the spec, on the *raw* path, so that a path
the spec does not know, an undeclared query parameter or a value outside the declared bounds
(`page_size` above 300) is answered with a clear 400 instead of being served: a client bug
then cannot pass silently. Tests also use `Spec.validate_response` to check what the fake
serves against the operation's declared response schema.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any
from urllib.parse import parse_qsl, unquote

from .schema import validate

SPEC_FILENAME = "ZoomMeetingAPISpec.2023-10.subset-past-report-webinars.json"
#: The spec's server URL is `https://api.zoom.us/v2`: every API path starts with this.
API_PREFIX = "/v2"

_RATE_LIMIT_LABEL = re.compile(r"Rate Limit Label[^`]*`([^`]+)`")
_METHODS = ("get", "put", "post", "delete", "patch")


class SpecViolation(Exception):
    """The request does not match the spec; `detail` says how (machine-readable)."""

    def __init__(self, message: str, **detail: Any) -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail
        #: The operation the path matched, when only the query (or a path value) was wrong.
        self.operation: Operation | None = None


@dataclass(frozen=True, slots=True)
class Parameter:
    name: str
    location: str
    required: bool
    schema: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Operation:
    """One (method, path template) of the spec."""

    method: str
    template: str
    operation_id: str
    #: Zoom's rate-limit label, normalised to `Light`/`Medium`/`Heavy`/`Resource-intensive`.
    category: str
    scopes: tuple[str, ...]
    parameters: Mapping[str, Parameter]
    responses: Mapping[str, Any]
    segments: tuple[str, ...] = field(repr=False)

    @property
    def query_parameters(self) -> dict[str, Parameter]:
        return {n: p for n, p in self.parameters.items() if p.location == "query"}

    def response_schema(self, status: int | str = 200) -> Mapping[str, Any] | None:
        content = self.responses.get(str(status), {}).get("content", {})
        media: Any = content.get("application/json") or next(iter(content.values()), {})
        schema = media.get("schema") if isinstance(media, Mapping) else None
        return schema if isinstance(schema, Mapping) else None


@dataclass(frozen=True, slots=True)
class Match:
    """A request routed to an operation; `raw_params` are the still-encoded path segments."""

    operation: Operation
    raw_params: Mapping[str, str]
    query: Mapping[str, str | int | bool]


def _category(description: str) -> str:
    found = _RATE_LIMIT_LABEL.search(description)
    label = found.group(1).strip().lower() if found else "light"
    return "Resource-intensive" if label.startswith("resource") else label.capitalize()


def _operation(method: str, template: str, raw: Mapping[str, Any]) -> Operation:
    params = {
        p["name"]: Parameter(p["name"], p["in"], bool(p.get("required")), p.get("schema", {}))
        for p in raw.get("parameters", ())
    }
    ext = raw.get("extensions", {})
    scopes = ext.get("x-granular-scopes") or ext.get("x-macro-scopes") or ()
    return Operation(
        method=method.upper(),
        template=template,
        operation_id=raw["operationId"],
        category=_category(raw.get("description", "")),
        scopes=tuple(scopes),
        parameters=params,
        responses=raw.get("responses", {}),
        segments=tuple(template.strip("/").split("/")),
    )


class Spec:
    """The operations of an OpenAPI document, with raw-path routing and query validation."""

    def __init__(self, document: Mapping[str, Any]) -> None:
        self.document = document
        self.operations: dict[str, Operation] = {}
        for template, item in document["paths"].items():
            for method in _METHODS:
                if method in item:
                    op = _operation(method, template, item[method])
                    self.operations[op.operation_id] = op

    @classmethod
    def load(cls) -> Spec:
        """The packaged Zoom spec (parsed once per process)."""
        return _packaged_spec()

    def operation(self, operation_id: str) -> Operation:
        return self.operations[operation_id]

    def route(self, method: str, raw_path: str, raw_query: str) -> Match:
        """Route a request by its raw path and validate its query; raise `SpecViolation`."""
        if not raw_path.startswith(API_PREFIX + "/"):
            raise SpecViolation(
                f"path {raw_path!r} is not under {API_PREFIX}/", reason="unknown_path"
            )
        raw_segments = raw_path[len(API_PREFIX) + 1 :].split("/")
        candidates = [op for op in self.operations.values() if self._fits(op, raw_segments)]
        if not candidates:
            raise SpecViolation(
                f"no spec path matches {raw_path!r}", reason="unknown_path", path=raw_path
            )
        # Literal segments beat parameters (`/a/instances` over `/a/{id}`), as in OpenAPI.
        candidates.sort(key=lambda op: -sum(not s.startswith("{") for s in op.segments))
        allowed = [op for op in candidates if op.method == method.upper()]
        if not allowed:
            methods = sorted({op.method for op in candidates})
            raise SpecViolation(
                f"{method} is not a spec method of {candidates[0].template} (spec has {methods})",
                reason="method_not_in_spec",
                template=candidates[0].template,
            )
        op = allowed[0]
        raw_params = {
            seg[1:-1]: raw
            for seg, raw in zip(op.segments, raw_segments, strict=True)
            if seg.startswith("{")
        }
        try:
            self._check_path_params(op, raw_params)
            return Match(op, raw_params, self.parse_query(op, raw_query))
        except SpecViolation as violation:
            violation.operation = op
            raise

    @staticmethod
    def _fits(op: Operation, raw_segments: list[str]) -> bool:
        if len(op.segments) != len(raw_segments):
            return False
        for seg, raw in zip(op.segments, raw_segments, strict=True):
            if seg.startswith("{"):
                if raw == "":
                    return False
            elif unquote(raw) != seg:
                return False
        return True

    @staticmethod
    def _check_path_params(op: Operation, raw_params: Mapping[str, str]) -> None:
        for name, raw in raw_params.items():
            param = op.parameters.get(name)
            if param is not None and param.schema.get("type") == "integer" and not raw.isdigit():
                raise SpecViolation(
                    f"path parameter {name}={raw!r} of {op.template} must be an integer",
                    reason="bad_path_parameter",
                    parameter=name,
                )

    def parse_query(self, op: Operation, raw_query: str) -> dict[str, str | int | bool]:
        """The declared query parameters, typed; raise on undeclared, repeated, out of bounds."""
        declared = op.query_parameters
        values: dict[str, str | int | bool] = {}
        for name, text in parse_qsl(raw_query, keep_blank_values=True):
            param = declared.get(name)
            if param is None:
                raise SpecViolation(
                    f"query parameter {name!r} is not declared for {op.method} {op.template} "
                    f"(declared: {', '.join(sorted(declared)) or 'none'})",
                    reason="unknown_query_parameter",
                    parameter=name,
                )
            if name in values:
                raise SpecViolation(
                    f"query parameter {name!r} repeated", reason="repeated_query_parameter"
                )
            values[name] = _coerce(param, text)
        for name, param in declared.items():
            if param.required and name not in values:
                raise SpecViolation(
                    f"query parameter {name!r} is required", reason="missing_query_parameter"
                )
        return values

    def validate_response(self, operation_id: str, body: Any, status: int | str = 200) -> list[str]:
        """Every way `body` breaks the operation's declared response schema; `[]` if valid."""
        schema = self.operation(operation_id).response_schema(status)
        if schema is None:
            return [f"{operation_id} declares no JSON schema for status {status}"]
        return validate(schema, body)


def _coerce(param: Parameter, text: str) -> str | int | bool:
    schema = param.schema
    kind = schema.get("type", "string")
    value: str | int | bool
    if kind == "integer":
        if not re.fullmatch(r"-?\d+", text):
            raise SpecViolation(
                f"{param.name}={text!r} is not an integer",
                reason="bad_query_value",
                parameter=param.name,
            )
        value = int(text)
    elif kind == "boolean":
        if text not in ("true", "false"):
            raise SpecViolation(
                f"{param.name}={text!r} is not true/false",
                reason="bad_query_value",
                parameter=param.name,
            )
        value = text == "true"
    else:
        value = text
    errors = validate(schema, value, param.name)
    if errors:
        raise SpecViolation("; ".join(errors), reason="bad_query_value", parameter=param.name)
    return value


@cache
def _packaged_spec() -> Spec:
    text = resources.files(__package__).joinpath(SPEC_FILENAME).read_text(encoding="utf-8")
    return Spec(json.loads(text))
