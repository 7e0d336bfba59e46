"""The Zoom apps and accounts this deployment serves: from `ZOOMHOOKS_CONFIG` (TOML) and the
single-app environment variables.

```toml
[apps.marketing]                  # webhooks at /webhooks/zoom/marketing
account_id = "AbCdEf..."          # the Zoom account the app is installed on
secret_tokens_env = "MKT_SECRET"  # or secret_tokens = ["new", "old"] (rotation)
client_id = "..."                 # Server-to-Server OAuth, for follow-ups (optional)
client_secret_env = "MKT_CLIENT_SECRET"   # or client_secret = "..."
subscription_id = "..."           # events over a WebSocket too (`zoomhooks listen`; optional)

[accounts.AbCdEf...]              # optional: the account's plan and the share zoomhooks takes
plan = "business"                 # free | pro | business (Business+)
share = 0.5
daily_cap = 60000                 # Heavy + Resource-intensive calls a day, if not the plan's
```

Secrets are best kept out of the file (`*_env` names an environment variable, e.g. from a
Kubernetes Secret); they never show in reprs. The environment's `ZOOM_WEBHOOK_SECRET_TOKEN`
and `ZOOM_ACCOUNT_ID`/`ZOOM_CLIENT_ID`/`ZOOM_CLIENT_SECRET` make the app `default`, served at
`/webhooks/zoom`, as before; `ZOOM_WEBSOCKET_SUBSCRIPTION_ID` gives it a WebSocket
subscription. An app with a `subscription_id` needs its Server-to-Server credentials (the
socket is opened with the app's access token) and may go without a secret token when Zoom
sends it no webhooks. Pure: parsing takes the TOML text and the environment as values.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .actions import Actions, ActionsConfigError
from .actions import parse as parse_actions

#: The app that the environment variables describe, served at the bare webhook path.
DEFAULT_APP = "default"
WEBHOOK_PATH = "/webhooks/zoom"
_APP_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
#: What a WebSocket subscription id may hold: it travels in the connection URL's query.
_SUBSCRIPTION_ID = re.compile(r"^[A-Za-z0-9_.~-]{1,128}$")
_APP_KEYS = {
    "account_id",
    "secret_tokens",
    "secret_tokens_env",
    "client_id",
    "client_secret",
    "client_secret_env",
    "actions",
    "subscription_id",
}
_ACCOUNT_KEYS = {"plan", "share", "daily_cap"}
#: Zoom's plans as far as rate limits go (see `service.governor.plans`), with aliases.
PLANS = ("free", "pro", "business")
_PLAN_ALIASES = {
    "business+": "business",
    "enterprise": "business",
    "education": "business",
    "partner": "business",
}


def parse_plan(value: str) -> str:
    text = value.strip().lower()
    text = _PLAN_ALIASES.get(text, text)
    if text not in PLANS:
        raise ValueError(
            f"unknown Zoom plan {value!r}: use free, pro or business (Business+, Education, "
            "Enterprise and Partner accounts share Business's limits)"
        )
    return text


@dataclass(frozen=True, slots=True)
class Limits:
    """What the rate governor may spend of an account's limits."""

    plan: str
    #: The share of the plan's limits zoomhooks takes, in (0, 1].
    share: float
    #: Heavy + Resource-intensive calls a day, when Zoom set the account a cap of its own.
    daily_cap: int | None = None

    def __post_init__(self) -> None:
        if self.plan not in PLANS:
            raise ValueError(f"unknown Zoom plan {self.plan!r}")
        if not 0 < self.share <= 1:
            raise ValueError(f"share must lie in (0, 1], not {self.share}")
        if self.daily_cap is not None and self.daily_cap < 1:
            raise ValueError("daily_cap must be at least 1")


class ConfigError(ValueError):
    """The configuration file is unusable; the message says where and why."""


class NotBound(Exception):
    """An event names an account that the app which verified it does not serve."""


@dataclass(frozen=True, slots=True)
class Credentials:
    """A Server-to-Server OAuth app's credentials; the secret never shows in reprs."""

    account_id: str
    client_id: str
    client_secret: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class App:
    name: str
    account_id: str | None
    secrets: tuple[bytes, ...] = field(repr=False)
    credentials: Credentials | None = None
    #: Write-side actions (see `service.actions`); None: the app only reads.
    actions: Actions | None = None
    #: The Zoom WebSocket event subscription `zoomhooks listen` holds for it; None: webhooks only.
    subscription_id: str | None = None

    @property
    def path(self) -> str:
        return WEBHOOK_PATH if self.name == DEFAULT_APP else f"{WEBHOOK_PATH}/{self.name}"


@dataclass(frozen=True, slots=True)
class Apps:
    apps: Mapping[str, App]
    #: Each account's limits; `default_limits` for accounts not listed.
    limits: Mapping[str, Limits]
    default_limits: Limits

    def get(self, name: str) -> App | None:
        return self.apps.get(name)

    def credentials_for(
        self, account_id: str | None, *, app: str | None = None
    ) -> Credentials | None:
        """The credentials to call Zoom with for an event of `account_id`.

        `app` names the app whose secret verified the event; it binds the account, so that a
        leaked secret of one app can never spend another account's credentials or budget:
        an app of ZOOMHOOKS_CONFIG serves only its own account, and no app serves an account
        that another app serves (NotBound). The environment's app, as before, also serves the
        accounts no app claims, with its own credentials. Without `app` (an operator's
        backfill, rows stored before apps were recorded) the account alone decides.
        """
        if app is None:
            return self._by_account(account_id)
        verifier = self.apps.get(app)
        if verifier is None:
            raise NotBound(f"app {app!r} verified this event but is no longer configured")
        bound = verifier.account_id or (
            verifier.credentials.account_id if verifier.credentials else None
        )
        if account_id is None or account_id == bound:
            return self._by_account(bound)
        if bound is None:
            if self._claimed(account_id):
                raise NotBound(
                    f"app {app!r} verified this event, but the event names account "
                    f"{account_id!r}, which another app serves: no credentials were used. "
                    f"Give {app!r} its own account id, or check who has its secret token."
                )
            return self._by_account(account_id)
        if app != DEFAULT_APP or self._claimed(account_id):
            raise NotBound(
                f"app {app!r} verified this event, but the event names account {account_id!r}, "
                f"and {app!r} serves account {bound!r}: no credentials were used. If {app!r} "
                f"really serves {account_id!r}, set its account id; if not, its secret token "
                f"may have leaked: rotate it."
            )
        return verifier.credentials

    def _by_account(self, account_id: str | None) -> Credentials | None:
        """An app installed on the account, else the environment's app, unless another app
        serves the account (without credentials): its credentials are not lent there."""
        for candidate in self.apps.values():
            if candidate.credentials is not None and candidate.credentials.account_id == account_id:
                return candidate.credentials
        default = self.apps.get(DEFAULT_APP)
        if default is None or default.credentials is None:
            return None
        if account_id is not None and self._claimed(account_id):
            return None
        return default.credentials

    def _claimed(self, account_id: str) -> bool:
        """Whether any app serves `account_id`."""
        for candidate in self.apps.values():
            credentials = candidate.credentials
            if candidate.account_id == account_id or (
                credentials is not None and credentials.account_id == account_id
            ):
                return True
        return False

    def credentials(self) -> list[Credentials]:
        """Every distinct set of credentials, one per account (the first app's wins)."""
        found: dict[str, Credentials] = {}
        for app in self.apps.values():
            if app.credentials is not None:
                found.setdefault(app.credentials.account_id, app.credentials)
        return list(found.values())

    def secret_values(self) -> list[str]:
        """Every secret, for the log redactor (never for display)."""
        values = [s.decode() for app in self.apps.values() for s in app.secrets]
        values += [app.credentials.client_secret for app in self.apps.values() if app.credentials]
        return values

    @property
    def any_secret(self) -> bool:
        return any(app.secrets for app in self.apps.values())

    def subscriptions(self) -> list[App]:
        """The apps with a WebSocket subscription, in configuration order."""
        return [app for app in self.apps.values() if app.subscription_id is not None]


def split_secrets(text: str) -> tuple[bytes, ...]:
    """A comma-separated list of secret tokens (several allow rotation without downtime)."""
    return tuple(s.strip().encode() for s in text.split(",") if s.strip())


def load(
    text: str | None,
    *,
    environ: Mapping[str, str],
    default_app: App | None,
    default_limits: Limits,
    source: str = "ZOOMHOOKS_CONFIG",
) -> Apps:
    """The apps and budgets from TOML `text` (None: none), beside the environment's app."""
    data: dict[str, Any] = {}
    if text is not None:
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{source} is not valid TOML: {exc}") from None
    unknown = set(data) - {"apps", "accounts"}
    if unknown:
        raise ConfigError(
            f"{source}: unknown sections {sorted(unknown)} (use [apps.NAME], [accounts.ID])"
        )
    apps: dict[str, App] = {}
    if default_app is not None:
        apps[DEFAULT_APP] = default_app
    for name, table in _tables(data, "apps", source).items():
        where = f"{source} [apps.{name}]"
        if not _APP_NAME.match(name) or name == DEFAULT_APP:
            raise ConfigError(
                f"{where}: an app name is lower-case letters, digits, '-' or '_' (up to 64), "
                f"and not {DEFAULT_APP!r} (the environment's app)"
            )
        apps[name] = _app(name, table, where, environ)
    _check_subscriptions(apps, source)
    limits: dict[str, Limits] = {}
    for account_id, table in _tables(data, "accounts", source).items():
        limits[account_id] = _limits(table, f"{source} [accounts.{account_id}]", default_limits)
    return Apps(apps=apps, limits=limits, default_limits=default_limits)


def _tables(data: Mapping[str, Any], section: str, source: str) -> dict[str, dict[str, Any]]:
    found = data.get(section, {})
    if not isinstance(found, dict) or not all(isinstance(v, dict) for v in found.values()):
        raise ConfigError(f"{source}: [{section}] must hold tables, like [{section}.NAME]")
    return found


def _app(name: str, table: Mapping[str, Any], where: str, environ: Mapping[str, str]) -> App:
    unknown = set(table) - _APP_KEYS
    if unknown:
        raise ConfigError(f"{where}: unknown keys {sorted(unknown)}; known: {sorted(_APP_KEYS)}")
    account_id = _string(table, "account_id", where)
    tokens = table.get("secret_tokens")
    if tokens is not None and (
        not isinstance(tokens, list) or not all(isinstance(t, str) and t for t in tokens)
    ):
        raise ConfigError(f"{where}: secret_tokens must be a list of non-empty strings")
    secrets = tuple(t.strip().encode() for t in tokens or ())
    secrets += split_secrets(_from_env(table, "secret_tokens_env", where, environ) or "")
    subscription_id = _string(table, "subscription_id", where)
    if not secrets and subscription_id is None:
        raise ConfigError(
            f"{where}: give secret_tokens or secret_tokens_env (the Secret Token), or "
            "subscription_id to receive its events over a WebSocket"
        )
    client_id = _string(table, "client_id", where)
    client_secret = _string(table, "client_secret", where) or _from_env(
        table, "client_secret_env", where, environ
    )
    credentials = None
    if client_id or client_secret:
        if not (client_id and client_secret and account_id):
            raise ConfigError(
                f"{where}: follow-ups need account_id, client_id and client_secret "
                "(or client_secret_env) together"
            )
        credentials = Credentials(account_id, client_id, client_secret)
    actions = None
    if "actions" in table:
        raw = table["actions"]
        if not isinstance(raw, dict):
            raise ConfigError(f"{where}: actions must be a table, like [apps.{name}.actions]")
        try:
            actions = parse_actions(raw)
        except ActionsConfigError as exc:
            raise ConfigError(f"{where[:-1]}.actions]: {exc}") from None
        if credentials is None and not actions.dry_run:
            raise ConfigError(
                f"{where[:-1]}.actions]: actions call Zoom, so the app needs account_id, "
                "client_id and client_secret (or client_secret_env), or dry_run = true"
            )
    return App(
        name=name,
        account_id=account_id,
        secrets=secrets,
        credentials=credentials,
        actions=actions,
        subscription_id=subscription_id,
    )


def _check_subscriptions(apps: Mapping[str, App], source: str) -> None:
    """Each subscription id fits the URL, belongs to one app, and that app can get an access
    token (the socket is opened with it)."""
    owners: dict[str, str] = {}
    for name, app in apps.items():
        if app.subscription_id is None:
            continue
        environment = name == DEFAULT_APP
        where = "ZOOM_WEBSOCKET_SUBSCRIPTION_ID" if environment else f"{source} [apps.{name}]"
        if not _SUBSCRIPTION_ID.match(app.subscription_id):
            raise ConfigError(
                f"{where}: a subscription id is the one Zoom shows for the app's WebSocket event "
                "subscription (letters, digits, '-', '_', '.', '~'; up to 128)"
            )
        if app.credentials is None:
            needs = (
                "ZOOM_ACCOUNT_ID, ZOOM_CLIENT_ID and ZOOM_CLIENT_SECRET"
                if environment
                else "account_id, client_id and client_secret (or client_secret_env)"
            )
            raise ConfigError(
                f"{where}: the WebSocket is opened with the app's Server-to-Server OAuth "
                f"token, so it needs {needs}"
            )
        if app.subscription_id in owners:
            raise ConfigError(
                f"{where}: subscription_id {app.subscription_id!r} is also app "
                f"{owners[app.subscription_id]!r}'s; Zoom keeps one connection per subscription"
            )
        owners[app.subscription_id] = name


def _limits(table: Mapping[str, Any], where: str, default: Limits) -> Limits:
    unknown = set(table) - _ACCOUNT_KEYS
    if unknown:
        raise ConfigError(
            f"{where}: unknown keys {sorted(unknown)}; known: {sorted(_ACCOUNT_KEYS)}"
        )
    try:
        plan = parse_plan(str(table["plan"])) if "plan" in table else default.plan
        share = table.get("share", default.share)
        cap = table.get("daily_cap")
        if isinstance(share, bool) or not isinstance(share, int | float):
            raise ValueError("share must be a number in (0, 1]")
        if cap is not None and (isinstance(cap, bool) or not isinstance(cap, int)):
            raise ValueError("daily_cap must be a whole number")
        return Limits(plan, float(share), cap)
    except ValueError as exc:
        raise ConfigError(f"{where}: {exc}") from None


def _string(table: Mapping[str, Any], key: str, where: str) -> str | None:
    value = table.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{where}: {key} must be a non-empty string")
    return value.strip()


def _from_env(
    table: Mapping[str, Any], key: str, where: str, environ: Mapping[str, str]
) -> str | None:
    name = _string(table, key, where)
    if name is None:
        return None
    value = environ.get(name, "").strip()
    if not value:
        raise ConfigError(
            f"{where}: {key} names {name}, which is not set in the environment (nor in .env)"
        )
    return value
