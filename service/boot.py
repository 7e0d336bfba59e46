"""Process start-up for every command: settings read once, logging set up, clear errors."""

from __future__ import annotations

from typing import Any

import click
from pydantic import ValidationError

from service import logs
from service.config import Settings


def load_settings() -> Settings:
    """Settings from the environment, or one line naming what is wrong (no traceback)."""
    try:
        return Settings()
    except ValidationError as exc:
        problems = "; ".join(_problem(e) for e in exc.errors())
        raise click.ClickException(f"invalid configuration: {problems}") from None


def _problem(error: Any) -> str:
    where = ".".join(str(p) for p in error["loc"])
    if not where and error["type"] == "value_error":
        # A check across settings (the config file): its message names what is wrong itself.
        return str(error["ctx"]["error"])
    return f"{where or 'settings'}: {error['msg']}"


def configure_logging(settings: Settings) -> None:
    logs.configure(settings.log_level, fmt=settings.log_format, secrets=settings.secret_values())


def start() -> Settings:
    """What every command does first."""
    settings = load_settings()
    configure_logging(settings)
    return settings
