"""Logging: JSON lines in production, plain text in a terminal, secrets redacted either way.

Log calls pass context as `extra={"inbox_id": ..., "event": ..., "instance_uuid": ...,
"zm_trackingid": ...}`; the JSON formatter puts those fields on the line. Settings keeps
secrets as SecretStr, so they are not logged by accident; the redacting filter is the second
line of defence for values that come back in third-party messages (a driver's error holding a
connection string, a bearer token in an HTTP library's debug line).
"""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, Literal

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"
#: The fields a line may carry besides the message, in this order.
CONTEXT_FIELDS = ("inbox_id", "event", "instance_uuid", "followup_id", "resource", "zm_trackingid")
REDACTED = "[redacted]"
#: Credentials that look the same whoever's they are: (pattern, replacement).
_PATTERNS = (
    (re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]{8,}"), rf"\1{REDACTED}"),
    (re.compile(r"(?i)(basic\s+)[A-Za-z0-9+/=]{8,}"), rf"\1{REDACTED}"),
    (
        re.compile(
            r"(?i)((?:access_token|client_secret|password|secret_token)[\"']?\s*[=:]\s*[\"']?)"
            r"[^\s\"'&,}]+"
        ),
        rf"\1{REDACTED}",
    ),
    (re.compile(r"(://[^:/@\s]+:)[^@/\s]+(@)"), rf"\1{REDACTED}\2"),  # user:password@host
)

#: Substrings (lower case) without which no pattern above can match.
_MARKERS = ("bearer", "basic", "access_token", "client_secret", "password", "secret_token", "://")

Format = Literal["auto", "json", "text"]


class Redactor(logging.Filter):
    """Replaces known secret values and credential-shaped text in every record."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self.secrets = sorted({s for s in secrets if len(s) >= 4}, key=len, reverse=True)

    def scrub(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, REDACTED)
        lowered = text.lower()
        # The patterns only matter where a credential can be: most lines skip them entirely.
        if any(marker in lowered for marker in _MARKERS):
            for pattern, replacement in _PATTERNS:
                text = pattern.sub(replacement, text)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = self.scrub(record.getMessage())
        record.args = None
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = self.scrub(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        return True


class JSONFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in CONTEXT_FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                line[name] = value
        if record.exc_text:
            line["error"] = record.exc_text
        elif record.exc_info:
            line["error"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False, default=str)


def configure(level: str, *, fmt: Format = "auto", secrets: Iterable[str] = ()) -> None:
    """Route every logger to stderr: JSON unless `fmt` is text or stderr is a terminal."""
    use_json = fmt == "json" or (fmt == "auto" and not sys.stderr.isatty())
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JSONFormatter() if use_json else logging.Formatter(TEXT_FORMAT))
    handler.addFilter(Redactor(secrets))
    logging.basicConfig(level=level, handlers=[handler], force=True)
    # Dramatiq is chatty at INFO about connections; its warnings still show.
    for noisy in ("dramatiq.worker.ConsumerThread", "httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLevelName(level)))
    # pika logs one refused connection as some twenty ERROR lines; zoomhooks' own warning
    # ("enqueue ... failed; the sweeper will retry", /readyz's broker check) says it once.
    logging.getLogger("pika").setLevel(logging.CRITICAL)
