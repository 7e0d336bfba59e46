"""Settings, read once from the environment (and an optional `.env`) and passed explicitly."""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    AliasChoices,
    Field,
    ModelWrapValidatorHandler,
    PrivateAttr,
    SecretStr,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy import URL, make_url
from sqlalchemy.exc import ArgumentError

from service import apps
from service.recording_settings import (
    RecordingDownloads,
    parse_file_types,
    parse_storage_url,
)

#: Where the embedded default keeps its SQLite file, relative to the working directory.
DEFAULT_DATA_DIR = Path("data")
DEFAULT_DATABASE_URL = f"sqlite:///{DEFAULT_DATA_DIR / 'zoomhooks.sqlite3'}"

#: Zoom retries a failed delivery at +5, +20 and +60 minutes (~85 min in all) and may keep the
#: original x-zm-request-timestamp, so the window must cover that with margin (seconds).
DEFAULT_TIMESTAMP_TOLERANCE = 2 * 60 * 60
#: How far a timestamp may lie in the future before it is rejected: clock skew only (seconds).
DEFAULT_FUTURE_SKEW = 5 * 60
#: Largest webhook body accepted (bytes). Zoom's largest events are a few KiB.
DEFAULT_MAX_BODY_BYTES = 256 * 1024
#: A `received` row not picked up for this long is re-enqueued by the sweeper (seconds).
DEFAULT_SWEEP_AFTER = 5 * 60
#: How long a claim holds an inbox row or a follow-up job unless its process renews it
#: (seconds). After a worker is killed, its rows are taken back about this long later.
DEFAULT_LEASE = 30
#: How long a delivery may wait for its commit before it is answered 503 (seconds): Zoom
#: gives up on an answer after 3 s, and retries a 5xx.
DEFAULT_COMMIT_DEADLINE = 2.0
#: How often the sweeper looks (seconds).
DEFAULT_SWEEP_INTERVAL = 60
#: How many attempts an inbox row gets before it is marked `failed`.
DEFAULT_MAX_ATTEMPTS = 10
#: Worker threads consuming the queue (embedded: inside the web process).
DEFAULT_WORKER_THREADS = 4
#: PostgreSQL connections each process keeps pooled, at the least (as many again may open
#: under load). Its default grows with the worker threads: see `Settings.pool_size`.
DEFAULT_POOL_SIZE = 10
#: Connections a worker process uses besides one per thread: the sweeper, heartbeats, the
#: governor's and the token store's short transactions.
POOL_HEADROOM = 4
#: Wait before the first follow-up fetch: Zoom's past data is not ready at once (seconds).
DEFAULT_FOLLOWUP_DELAY = 5 * 60
#: First wait after Zoom says the data is not ready yet; later waits double (seconds).
DEFAULT_NOT_READY_RETRY = 5 * 60
#: How long after `ended` "not ready" is still believed; then the job fails (seconds).
DEFAULT_NOT_READY_LIMIT = 24 * 60 * 60
DEFAULT_ZOOM_API_BASE_URL = "https://api.zoom.us/v2"
DEFAULT_ZOOM_OAUTH_URL = "https://zoom.us/oauth/token"
#: Zoom's WebSocket endpoint for event subscriptions (`zoomhooks listen`).
DEFAULT_ZOOM_WEBSOCKET_URL = "wss://ws.zoom.us/ws"
#: How often the listener sends Zoom a heartbeat (seconds); Zoom asks for one every 30 s.
DEFAULT_LISTEN_HEARTBEAT = 30.0
#: How long the listener waits for the answer to a heartbeat before it takes the connection
#: for dead and opens another (seconds).
DEFAULT_LISTEN_HEARTBEAT_TIMEOUT = 10.0
#: Longest wait between two reconnect attempts, before jitter (seconds).
DEFAULT_LISTEN_RECONNECT_MAX = 60.0
#: Longest disconnect window reconciled after a reconnect (seconds); an older start is
#: clipped, and the log says to run `zoomhooks reconcile --since` for the rest.
DEFAULT_LISTEN_MAX_GAP = 7 * 24 * 60 * 60.0
#: Recording downloads running at once per worker process, on their own queue, so multi-GB
#: transfers never hold the threads the webhooks and the API follow-ups need.
DEFAULT_RECORDING_THREADS = 2
#: Prefix of every queue name, so that deployments (and test runs) sharing a broker never collide.
DEFAULT_QUEUE_PREFIX = "zoomhooks"


#: The Zoom plan assumed for an account the configuration does not describe: webinars need at
#: least Pro, and assuming more than the account has would meet 429s.
DEFAULT_ZOOM_PLAN = "pro"
#: The share of each account's Zoom rate limits zoomhooks takes, so other integrations on the
#: account keep headroom.
DEFAULT_RATE_SHARE = 0.5

BROKER_SCHEMES = frozenset({"amqp", "amqps", "redis", "rediss"})


def parse_database_url(url: str) -> URL:
    """Parse a DATABASE_URL; plain `postgresql://` means psycopg 3, the driver we ship.

    Raises ValueError, with a message fit for an operator, for anything we cannot run on.
    """
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise ValueError("not a database URL (e.g. sqlite:///data/zoomhooks.sqlite3)") from None
    # From the text alone: asking SQLAlchemy would import (or fail to import) the dialect.
    backend, _, driver = parsed.drivername.partition("+")
    if backend == "postgresql" and not driver:
        return parsed.set(drivername="postgresql+psycopg")
    if (backend, driver) not in {("sqlite", ""), ("sqlite", "pysqlite"), ("postgresql", "psycopg")}:
        raise ValueError(
            f"unsupported database {parsed.drivername!r}: use sqlite:///PATH or "
            "postgresql+psycopg://USER:PASSWORD@HOST:PORT/DB"
        )
    return parsed


def _env(*names: str) -> AliasChoices:
    return AliasChoices(*names)


class Settings(BaseSettings):
    """Everything zoomhooks reads from its environment. Secrets are `SecretStr`: never in reprs."""

    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        frozen=True,
        # An empty variable means "use the default", as operators expect from `FOO=`.
        env_ignore_empty=True,
    )

    _apps: apps.Apps = PrivateAttr()

    database_url: SecretStr = Field(
        default=SecretStr(DEFAULT_DATABASE_URL), validation_alias=_env("DATABASE_URL")
    )
    broker_url: SecretStr | None = Field(default=None, validation_alias=_env("BROKER_URL"))
    webhook_secret_token: SecretStr | None = Field(
        default=None, validation_alias=_env("ZOOM_WEBHOOK_SECRET_TOKEN")
    )
    timestamp_tolerance_seconds: int = Field(
        default=DEFAULT_TIMESTAMP_TOLERANCE,
        ge=0,
        validation_alias=_env("ZOOMHOOKS_TIMESTAMP_TOLERANCE_SECONDS"),
    )
    future_skew_seconds: int = Field(
        default=DEFAULT_FUTURE_SKEW, ge=0, validation_alias=_env("ZOOMHOOKS_FUTURE_SKEW_SECONDS")
    )
    max_body_bytes: int = Field(
        default=DEFAULT_MAX_BODY_BYTES, ge=1, validation_alias=_env("ZOOMHOOKS_MAX_BODY_BYTES")
    )
    sweep_after_seconds: int = Field(
        default=DEFAULT_SWEEP_AFTER, ge=0, validation_alias=_env("ZOOMHOOKS_SWEEP_AFTER_SECONDS")
    )
    lease_seconds: int = Field(
        default=DEFAULT_LEASE, ge=3, le=3600, validation_alias=_env("ZOOMHOOKS_LEASE_SECONDS")
    )
    retention_events_days: int | None = Field(
        default=None, ge=1, validation_alias=_env("ZOOMHOOKS_RETENTION_EVENTS_DAYS")
    )
    retention_failed_days: int | None = Field(
        default=None, ge=1, validation_alias=_env("ZOOMHOOKS_RETENTION_FAILED_DAYS")
    )
    retention_timeline_days: int | None = Field(
        default=None, ge=1, validation_alias=_env("ZOOMHOOKS_RETENTION_TIMELINE_DAYS")
    )
    retention_instances_days: int | None = Field(
        default=None, ge=1, validation_alias=_env("ZOOMHOOKS_RETENTION_INSTANCES_DAYS")
    )
    purge_interval_seconds: float | None = Field(
        default=None, ge=60, validation_alias=_env("ZOOMHOOKS_PURGE_INTERVAL_SECONDS")
    )
    gauge_ttl_seconds: float = Field(
        default=15.0, ge=0, le=3600, validation_alias=_env("ZOOMHOOKS_GAUGE_TTL_SECONDS")
    )
    commit_deadline_seconds: float = Field(
        default=DEFAULT_COMMIT_DEADLINE,
        gt=0,
        le=60,
        validation_alias=_env("ZOOMHOOKS_COMMIT_DEADLINE_SECONDS"),
    )
    sweep_interval_seconds: float = Field(
        default=DEFAULT_SWEEP_INTERVAL,
        gt=0,
        validation_alias=_env("ZOOMHOOKS_SWEEP_INTERVAL_SECONDS"),
    )
    max_attempts: int = Field(
        default=DEFAULT_MAX_ATTEMPTS, ge=1, validation_alias=_env("ZOOMHOOKS_MAX_ATTEMPTS")
    )
    worker_threads: int = Field(
        default=DEFAULT_WORKER_THREADS, ge=1, validation_alias=_env("ZOOMHOOKS_WORKER_THREADS")
    )
    process_on_ingest: bool = Field(
        default=True, validation_alias=_env("ZOOMHOOKS_PROCESS_ON_INGEST")
    )
    fetch_reports: bool = Field(default=True, validation_alias=_env("ZOOMHOOKS_FETCH_REPORTS"))
    db_pool_size: int | None = Field(
        default=None, ge=1, le=1000, validation_alias=_env("ZOOMHOOKS_DB_POOL_SIZE")
    )
    queue_prefix: str = Field(
        default=DEFAULT_QUEUE_PREFIX,
        pattern=r"^[A-Za-z_][A-Za-z0-9_.-]{0,63}$",
        validation_alias=_env("ZOOMHOOKS_QUEUE_PREFIX"),
    )
    log_level: str = Field(default="INFO", validation_alias=_env("ZOOMHOOKS_LOG_LEVEL"))
    log_format: Literal["auto", "json", "text"] = Field(
        default="auto", validation_alias=_env("ZOOMHOOKS_LOG_FORMAT")
    )
    zoom_account_id: str | None = Field(default=None, validation_alias=_env("ZOOM_ACCOUNT_ID"))
    zoom_client_id: str | None = Field(default=None, validation_alias=_env("ZOOM_CLIENT_ID"))
    zoom_client_secret: SecretStr | None = Field(
        default=None, validation_alias=_env("ZOOM_CLIENT_SECRET")
    )
    zoom_api_base_url: str = Field(
        default=DEFAULT_ZOOM_API_BASE_URL, validation_alias=_env("ZOOM_API_BASE_URL")
    )
    zoom_oauth_url: str = Field(
        default=DEFAULT_ZOOM_OAUTH_URL, validation_alias=_env("ZOOM_OAUTH_URL")
    )
    zoom_websocket_url: str = Field(
        default=DEFAULT_ZOOM_WEBSOCKET_URL, validation_alias=_env("ZOOM_WEBSOCKET_URL")
    )
    zoom_websocket_subscription_id: str | None = Field(
        default=None, validation_alias=_env("ZOOM_WEBSOCKET_SUBSCRIPTION_ID")
    )
    listen_heartbeat_seconds: float = Field(
        default=DEFAULT_LISTEN_HEARTBEAT,
        gt=0,
        le=300,
        validation_alias=_env("ZOOMHOOKS_LISTEN_HEARTBEAT_SECONDS"),
    )
    listen_heartbeat_timeout_seconds: float = Field(
        default=DEFAULT_LISTEN_HEARTBEAT_TIMEOUT,
        gt=0,
        le=300,
        validation_alias=_env("ZOOMHOOKS_LISTEN_HEARTBEAT_TIMEOUT_SECONDS"),
    )
    listen_reconnect_max_seconds: float = Field(
        default=DEFAULT_LISTEN_RECONNECT_MAX,
        gt=0,
        le=3600,
        validation_alias=_env("ZOOMHOOKS_LISTEN_RECONNECT_MAX_SECONDS"),
    )
    listen_max_gap_seconds: float = Field(
        default=DEFAULT_LISTEN_MAX_GAP,
        gt=0,
        validation_alias=_env("ZOOMHOOKS_LISTEN_MAX_GAP_SECONDS"),
    )
    zoom_daily_cap: int | None = Field(
        default=None, ge=1, validation_alias=_env("ZOOMHOOKS_ZOOM_DAILY_CAP")
    )
    config_file: Path | None = Field(default=None, validation_alias=_env("ZOOMHOOKS_CONFIG"))
    zoom_plan: str = Field(default=DEFAULT_ZOOM_PLAN, validation_alias=_env("ZOOMHOOKS_ZOOM_PLAN"))
    zoom_rate_share: float = Field(
        default=DEFAULT_RATE_SHARE,
        gt=0,
        le=1,
        validation_alias=_env("ZOOMHOOKS_ZOOM_RATE_SHARE"),
    )
    rate_limit_backend: Literal["auto", "redis", "database", "memory"] = Field(
        default="auto", validation_alias=_env("ZOOMHOOKS_RATE_LIMIT_BACKEND")
    )
    rate_limit_redis_url: SecretStr | None = Field(
        default=None, validation_alias=_env("ZOOMHOOKS_RATE_LIMIT_REDIS_URL")
    )
    followup_delay_seconds: float = Field(
        default=DEFAULT_FOLLOWUP_DELAY,
        ge=0,
        validation_alias=_env("ZOOMHOOKS_FOLLOWUP_DELAY_SECONDS"),
    )
    not_ready_retry_seconds: float = Field(
        default=DEFAULT_NOT_READY_RETRY,
        ge=0,
        validation_alias=_env("ZOOMHOOKS_NOT_READY_RETRY_SECONDS"),
    )
    not_ready_limit_seconds: float = Field(
        default=DEFAULT_NOT_READY_LIMIT,
        ge=0,
        validation_alias=_env("ZOOMHOOKS_NOT_READY_LIMIT_SECONDS"),
    )
    recordings_storage: str | None = Field(
        default=None, validation_alias=_env("ZOOMHOOKS_RECORDINGS_STORAGE")
    )
    recordings_file_types: str = Field(
        default="all", validation_alias=_env("ZOOMHOOKS_RECORDINGS_FILE_TYPES")
    )
    recordings_threads: int = Field(
        default=DEFAULT_RECORDING_THREADS,
        ge=1,
        le=64,
        validation_alias=_env("ZOOMHOOKS_RECORDINGS_THREADS"),
    )

    @field_validator(
        "recordings_storage",
        "broker_url",
        "webhook_secret_token",
        "zoom_account_id",
        "zoom_client_id",
        "zoom_client_secret",
        "zoom_websocket_subscription_id",
        "config_file",
        "rate_limit_redis_url",
        mode="before",
    )
    @classmethod
    def _empty_is_unset(cls, value: Any) -> Any:
        if isinstance(value, str) and not value.strip():
            return None
        return value

    @field_validator("broker_url")
    @classmethod
    def _known_broker(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None:
            return None
        scheme, sep, rest = value.get_secret_value().strip().partition("://")
        if not sep or scheme.lower() not in BROKER_SCHEMES or not rest:
            raise ValueError(
                "BROKER_URL must start with amqp://, amqps://, redis:// or rediss:// "
                "(leave it unset for the embedded in-process broker)"
            )
        return SecretStr(f"{scheme.lower()}://{rest}")

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, value: SecretStr) -> SecretStr:
        return SecretStr(
            parse_database_url(value.get_secret_value()).render_as_string(hide_password=False)
        )

    @field_validator("zoom_api_base_url", "zoom_oauth_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("https://", "http://")):
            raise ValueError("must be an http(s) URL")
        return value.rstrip("/")

    @field_validator("zoom_websocket_url")
    @classmethod
    def _websocket_url(cls, value: str) -> str:
        if not value.startswith(("wss://", "ws://")):
            raise ValueError("must be a ws(s) URL, like wss://ws.zoom.us/ws")
        return value.rstrip("/")

    @field_validator("recordings_storage")
    @classmethod
    def _storage_url(cls, value: str | None) -> str | None:
        return parse_storage_url(value).display if value is not None else None

    @field_validator("recordings_file_types")
    @classmethod
    def _file_types(cls, value: str) -> str:
        types = parse_file_types(value)
        return ",".join(sorted(types)) if types else "all"

    @property
    def recording_downloads(self) -> RecordingDownloads | None:
        """Where recording files are copied to; None (the default): they are not."""
        if self.recordings_storage is None:
            return None
        return RecordingDownloads(
            storage=parse_storage_url(self.recordings_storage),
            file_types=parse_file_types(self.recordings_file_types),
            threads=self.recordings_threads,
        )

    @field_validator("zoom_websocket_subscription_id")
    @classmethod
    def _stripped(cls, value: str | None) -> str | None:
        return value.strip() if value is not None else None

    @field_validator("zoom_plan")
    @classmethod
    def _known_plan(cls, value: str) -> str:
        return apps.parse_plan(value)

    @model_validator(mode="wrap")
    @classmethod
    def _load_apps(cls, data: Any, handler: ModelWrapValidatorHandler[Settings]) -> Settings:
        settings = handler(data)
        settings._apps = settings._read_apps(_DotenvEnviron(cls._dotenv_extras(data)))
        return settings

    @classmethod
    def _dotenv_extras(cls, data: Any) -> dict[str, str]:
        """What the `.env` file sets besides Settings' own variables (pydantic hands those
        over lower-cased), so that the apps' `*_env` keys can name a variable set there."""
        if not isinstance(data, dict):
            return {}
        known = set(cls.model_fields)
        for field in cls.model_fields.values():
            if isinstance(field.validation_alias, AliasChoices):
                known |= {str(c).lower() for c in field.validation_alias.choices}
        return {
            key: value
            for key, value in data.items()
            if isinstance(key, str) and isinstance(value, str) and key.lower() not in known
        }

    def _read_apps(self, environ: Mapping[str, str]) -> apps.Apps:
        default_limits = apps.Limits(self.zoom_plan, self.zoom_rate_share, self.zoom_daily_cap)
        text = None
        if self.config_file is not None:
            try:
                text = self.config_file.read_text(encoding="utf-8")
            except OSError as exc:
                raise ValueError(
                    f"ZOOMHOOKS_CONFIG: cannot read {self.config_file}: {exc.strerror}"
                ) from None
        if self.rate_limit_backend == "redis" and self.rate_limit_redis is None:
            raise ValueError(
                "ZOOMHOOKS_RATE_LIMIT_BACKEND=redis needs ZOOMHOOKS_RATE_LIMIT_REDIS_URL or a "
                "redis:// BROKER_URL"
            )
        return apps.load(
            text,
            environ=environ,
            default_app=self._environment_app(),
            default_limits=default_limits,
            source=f"ZOOMHOOKS_CONFIG ({self.config_file})",
        )

    def _environment_app(self) -> apps.App | None:
        credentials = None
        if self.zoom_account_id and self.zoom_client_id and self.zoom_client_secret:
            credentials = apps.Credentials(
                self.zoom_account_id,
                self.zoom_client_id,
                self.zoom_client_secret.get_secret_value(),
            )
        subscription = self.zoom_websocket_subscription_id
        if not self.webhook_secrets and credentials is None and subscription is None:
            return None
        return apps.App(
            name=apps.DEFAULT_APP,
            account_id=self.zoom_account_id,
            secrets=self.webhook_secrets,
            credentials=credentials,
            subscription_id=subscription,
        )

    @property
    def pool_size(self) -> int:
        """PostgreSQL connections pooled per process (as many again may overflow): as set, else
        enough for every worker thread plus the headroom, and never below the default."""
        if self.db_pool_size is not None:
            return self.db_pool_size
        threads = self.worker_threads + (self.recordings_threads if self.recordings_storage else 0)
        return max(DEFAULT_POOL_SIZE, threads + POOL_HEADROOM)

    @property
    def rate_limit_redis(self) -> str | None:
        """The Redis the rate governor may use: its own, or a Redis broker's."""
        if self.rate_limit_redis_url is not None:
            return self.rate_limit_redis_url.get_secret_value()
        broker = self.broker_url.get_secret_value() if self.broker_url else ""
        return broker if broker.startswith(("redis://", "rediss://")) else None

    @property
    def rate_limit_store(self) -> Literal["redis", "database", "memory"]:
        """Where the governor keeps its pace: Redis when there is one; else the database,
        which every process shares; in the embedded default (one process), memory."""
        if self.rate_limit_backend != "auto":
            return self.rate_limit_backend
        if self.rate_limit_redis is not None:
            return "redis"
        return "memory" if self.embedded else "database"

    @property
    def apps(self) -> apps.Apps:
        """Every configured Zoom app and account budget (the file's and the environment's)."""
        return self._apps

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        level = value.upper()
        if level not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
            raise ValueError("ZOOMHOOKS_LOG_LEVEL must be DEBUG, INFO, WARNING, ERROR or CRITICAL")
        return level

    @property
    def webhook_secrets(self) -> tuple[bytes, ...]:
        """The environment app's accepted secrets; several allow rotation without downtime."""
        if self.webhook_secret_token is None:
            return ()
        return apps.split_secrets(self.webhook_secret_token.get_secret_value())

    def secret_values(self) -> list[str]:
        """Every secret this process knows, for the log redactor (never for display)."""
        # The apps hold the environment's secrets too; a client secret set without the rest of
        # its credentials makes no app, and is still a secret.
        values = self.apps.secret_values()
        if self.zoom_client_secret is not None:
            values.append(self.zoom_client_secret.get_secret_value())
        redis_url = (
            self.rate_limit_redis_url.get_secret_value() if self.rate_limit_redis_url else ""
        )
        urls = (
            self.database,
            self.broker_url.get_secret_value() if self.broker_url else "",
            redis_url,
        )
        for url in urls:
            try:
                password = make_url(url).password if url else None
            except ArgumentError:
                password = None
            if password:
                values.append(str(password))
        return values

    @property
    def zoom_configured(self) -> bool:
        """Some app has Server-to-Server OAuth credentials, so follow-ups can call Zoom."""
        return bool(self.apps.credentials())

    @property
    def embedded(self) -> bool:
        """No broker configured: StubBroker with worker threads inside the web process."""
        return self.broker_url is None

    @property
    def database(self) -> str:
        return self.database_url.get_secret_value()


class _DotenvEnviron(Mapping[str, str]):
    """The process environment, then the `.env` file's other variables (case-insensitive, as
    pydantic reads the file): where an app's `*_env` key looks its variable up."""

    def __init__(self, dotenv: Mapping[str, str]) -> None:
        self._dotenv = {key.lower(): value for key, value in dotenv.items()}

    def __getitem__(self, name: str) -> str:
        if name in os.environ:
            return os.environ[name]
        return self._dotenv[name.lower()]

    def __iter__(self) -> Iterator[str]:
        return iter({*os.environ, *self._dotenv})

    def __len__(self) -> int:
        return len({*os.environ, *self._dotenv})

    def __repr__(self) -> str:  # values are secrets
        return f"<environment and .env: {len(self)} variables>"
