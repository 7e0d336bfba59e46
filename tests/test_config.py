"""Settings from the environment: names, defaults, secrets kept out of output, clear errors."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from pydantic import ValidationError
from sqlalchemy import make_url

from service import config
from service.cli import main
from service.config import Settings
from service.queue import broker as brokers
from service.storage import db

#: Every variable zoomhooks documents, with a valid non-default value and the field it sets.
ENV_VARS: dict[str, tuple[str, str, object]] = {
    "DATABASE_URL": (
        "database",
        "sqlite:////tmp/elsewhere.sqlite3",
        "sqlite:////tmp/elsewhere.sqlite3",
    ),
    "BROKER_URL": ("embedded", "redis://127.0.0.1:6379/0", False),
    "ZOOM_WEBHOOK_SECRET_TOKEN": ("webhook_secrets", "abc", (b"abc",)),
    "ZOOMHOOKS_TIMESTAMP_TOLERANCE_SECONDS": ("timestamp_tolerance_seconds", "60", 60),
    "ZOOMHOOKS_FUTURE_SKEW_SECONDS": ("future_skew_seconds", "7", 7),
    "ZOOMHOOKS_MAX_BODY_BYTES": ("max_body_bytes", "1024", 1024),
    "ZOOMHOOKS_SWEEP_AFTER_SECONDS": ("sweep_after_seconds", "11", 11),
    "ZOOMHOOKS_LEASE_SECONDS": ("lease_seconds", "12", 12),
    "ZOOMHOOKS_GAUGE_TTL_SECONDS": ("gauge_ttl_seconds", "0", 0.0),
    "ZOOMHOOKS_COMMIT_DEADLINE_SECONDS": ("commit_deadline_seconds", "1.5", 1.5),
    "ZOOMHOOKS_SWEEP_INTERVAL_SECONDS": ("sweep_interval_seconds", "0.5", 0.5),
    "ZOOMHOOKS_MAX_ATTEMPTS": ("max_attempts", "3", 3),
    "ZOOMHOOKS_WORKER_THREADS": ("worker_threads", "9", 9),
    "ZOOMHOOKS_PROCESS_ON_INGEST": ("process_on_ingest", "false", False),
    "ZOOMHOOKS_FETCH_REPORTS": ("fetch_reports", "false", False),
    "ZOOMHOOKS_DB_POOL_SIZE": ("db_pool_size", "25", 25),
    "ZOOMHOOKS_QUEUE_PREFIX": ("queue_prefix", "staging.zh", "staging.zh"),
    "ZOOMHOOKS_LOG_LEVEL": ("log_level", "debug", "DEBUG"),
    "ZOOMHOOKS_RECORDINGS_STORAGE": (
        "recordings_storage",
        "s3://bucket/zoom/rec/",
        "s3://bucket/zoom/rec",
    ),
    "ZOOMHOOKS_RECORDINGS_FILE_TYPES": (
        "recordings_file_types",
        "mp4, Transcript",
        "MP4,TRANSCRIPT",
    ),
    "ZOOMHOOKS_RECORDINGS_THREADS": ("recordings_threads", "3", 3),
}

#: Field names without their documented prefix: generic names other software sets too.
UNPREFIXED = {
    "WEBHOOK_SECRET_TOKEN": ("webhook_secrets", "hijacked"),
    "LOG_LEVEL": ("log_level", "nonsense"),
    "MAX_BODY_BYTES": ("max_body_bytes", "5"),
    "MAX_ATTEMPTS": ("max_attempts", "1"),
    "WORKER_THREADS": ("worker_threads", "64"),
    "QUEUE_PREFIX": ("queue_prefix", "other"),
    "TIMESTAMP_TOLERANCE_SECONDS": ("timestamp_tolerance_seconds", "1"),
}

OLD_SECRET = "old-Sup3rS3cret-value"
NEW_SECRET = "new-Sup3rS3cret-value"
DB_PASSWORD = "Db-Passw0rd-value"
BROKER_PASSWORD = "Broker-Passw0rd-value"


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No zoomhooks variable from the host, and a working directory without a `.env`."""
    for name in list(os.environ):
        if name in ENV_VARS or name in UNPREFIXED or name.startswith("ZOOMHOOKS_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_defaults_are_embedded_sqlite_under_data(clean_environment: Path) -> None:
    settings = Settings()
    assert settings.embedded
    assert settings.broker_url is None
    assert settings.webhook_secrets == ()
    assert make_url(settings.database).get_backend_name() == "sqlite"
    assert Path(make_url(settings.database).database or "") == Path("data/zoomhooks.sqlite3")
    assert settings.timestamp_tolerance_seconds == config.DEFAULT_TIMESTAMP_TOLERANCE
    assert settings.timestamp_tolerance_seconds >= 85 * 60  # Zoom's retries, +5, +20, +60 min
    assert settings.future_skew_seconds == config.DEFAULT_FUTURE_SKEW
    assert settings.max_body_bytes == config.DEFAULT_MAX_BODY_BYTES
    assert settings.queue_prefix == "zoomhooks"
    assert settings.log_level == "INFO"


def test_default_database_file_is_created_in_data_of_working_directory(
    clean_environment: Path,
) -> None:
    engine = db.create(Settings().database)
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql("SELECT 1")
    finally:
        engine.dispose()
    assert (clean_environment / "data" / "zoomhooks.sqlite3").is_file()


@pytest.mark.parametrize("name", ENV_VARS)
def test_each_documented_variable_is_read(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    attribute, raw, expected = ENV_VARS[name]
    monkeypatch.setenv(name, raw)
    assert getattr(Settings(), attribute) == expected
    monkeypatch.delenv(name)
    assert getattr(Settings(), attribute) != expected


def test_dotenv_in_working_directory_is_read(clean_environment: Path) -> None:
    (clean_environment / ".env").write_text(
        "ZOOM_WEBHOOK_SECRET_TOKEN=from-dotenv\nZOOMHOOKS_MAX_ATTEMPTS=4\n", encoding="utf-8"
    )
    settings = Settings()
    assert settings.webhook_secrets == (b"from-dotenv",)
    assert settings.max_attempts == 4


def test_environment_wins_over_dotenv(
    clean_environment: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (clean_environment / ".env").write_text("ZOOMHOOKS_MAX_ATTEMPTS=4\n", encoding="utf-8")
    monkeypatch.setenv("ZOOMHOOKS_MAX_ATTEMPTS", "6")
    assert Settings().max_attempts == 6


def test_an_apps_env_keys_find_variables_of_the_dotenv_too(
    clean_environment: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (clean_environment / "apps.toml").write_text(
        '[apps.mkt]\naccount_id = "acct-m"\nsecret_tokens_env = "MKT_TOKENS"\n'
        'client_id = "cid"\nclient_secret_env = "MKT_CLIENT_SECRET"\n',
        encoding="utf-8",
    )
    (clean_environment / ".env").write_text(
        "ZOOMHOOKS_CONFIG=apps.toml\nMKT_TOKENS=from-dotenv\nMKT_CLIENT_SECRET=dotenv-secret\n",
        encoding="utf-8",
    )
    monkeypatch.delenv("MKT_TOKENS", raising=False)
    monkeypatch.setenv("MKT_CLIENT_SECRET", "environment-secret")
    settings = Settings()
    app = settings.apps.get("mkt")
    assert app is not None and app.secrets == (b"from-dotenv",)
    # The environment wins over the file, as for Settings' own variables.
    assert app.credentials is not None
    assert app.credentials.client_secret == "environment-secret"
    assert "from-dotenv" not in repr(settings) and "dotenv-secret" not in repr(settings)
    # Without the file, the variable is not set anywhere: a clear error, as before.
    with pytest.raises(ValidationError, match="MKT_TOKENS, which is not set"):
        Settings(_env_file=None, ZOOMHOOKS_CONFIG="apps.toml")  # type: ignore[call-arg]


def test_the_pool_has_a_connection_for_every_worker_thread_unless_set(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert Settings().pool_size == config.DEFAULT_POOL_SIZE
    monkeypatch.setenv("ZOOMHOOKS_WORKER_THREADS", "32")
    assert Settings().pool_size == 32 + config.POOL_HEADROOM
    monkeypatch.setenv("ZOOMHOOKS_DB_POOL_SIZE", "5")
    assert Settings().pool_size == 5


def test_unprefixed_generic_names_are_not_read(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only the documented names count: `LOG_LEVEL` or `WEBHOOK_SECRET_TOKEN` belong to others."""
    defaults = Settings()
    read: dict[str, str] = {}
    for name, (attribute, value) in UNPREFIXED.items():
        monkeypatch.setenv(name, value)
        try:
            got = getattr(Settings(), attribute)
        except ValidationError as exc:
            read[name] = f"read, and rejected: {exc.errors()[0]['msg']}"
        else:
            if got != getattr(defaults, attribute):
                read[name] = f"read as {attribute}={got!r}"
        monkeypatch.delenv(name)
    assert read == {}


# --- secrets --------------------------------------------------------------------------------


def test_secrets_never_in_repr_str_or_dump(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ZOOM_WEBHOOK_SECRET_TOKEN", f"{OLD_SECRET},{NEW_SECRET}")
    monkeypatch.setenv("DATABASE_URL", f"postgresql://zh:{DB_PASSWORD}@db.internal/zh")
    monkeypatch.setenv("BROKER_URL", f"amqp://zh:{BROKER_PASSWORD}@mq.internal/")
    settings = Settings()
    assert settings.webhook_secrets == (OLD_SECRET.encode(), NEW_SECRET.encode())
    renderings = {
        "repr": repr(settings),
        "str": str(settings),
        "format": f"{settings}",
        "model_dump_json": settings.model_dump_json(),
        "model_dump": str(settings.model_dump()),
        "fields": str(list(settings)),
    }
    for how, text in renderings.items():
        for secret in (OLD_SECRET, NEW_SECRET, DB_PASSWORD, BROKER_PASSWORD):
            assert secret not in text, f"{how} shows a secret"
    assert "**********" in renderings["model_dump_json"]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("one", (b"one",)),
        ("old,new", (b"old", b"new")),
        (" old , new ", (b"old", b"new")),
        ("old,,new,", (b"old", b"new")),
        ("\told\n,\tnew\n", (b"old", b"new")),
        ("sëcret", ("sëcret".encode(),)),
    ],
)
def test_comma_separated_secrets_trimmed(
    raw: str, expected: tuple[bytes, ...], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ZOOM_WEBHOOK_SECRET_TOKEN", raw)
    assert Settings().webhook_secrets == expected


# --- empty means unset ---------------------------------------------------------------------


@pytest.mark.parametrize("value", ["", "   ", "\t"])
@pytest.mark.parametrize("name", ["BROKER_URL", "ZOOM_WEBHOOK_SECRET_TOKEN"])
def test_empty_broker_or_secret_is_unset(
    name: str, value: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(name, value)
    settings = Settings()
    assert settings.embedded
    assert settings.webhook_secrets == ()


def test_secret_of_only_commas_is_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ZOOM_WEBHOOK_SECRET_TOKEN", " , ,")
    assert Settings().webhook_secrets == ()


def test_every_empty_variable_is_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    """`FOO=` (as compose writes `${FOO:-}`) must mean the default, for every documented name."""
    defaults = Settings()
    wrong: dict[str, str] = {}
    for name, (attribute, _raw, _expected) in ENV_VARS.items():
        monkeypatch.setenv(name, "")
        try:
            value = getattr(Settings(), attribute)
        except ValidationError as exc:
            wrong[name] = f"rejected: {exc.errors()[0]['msg']}"
        else:
            if value != getattr(defaults, attribute):
                wrong[name] = f"{value!r} instead of the default"
        monkeypatch.delenv(name)
    assert wrong == {}


# --- invalid values -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "http://mq.internal/",
        "https://mq.internal/",
        "kafka://k:9092",
        "sqs://queue",
        "mq.internal:5672",
    ],
)
def test_unknown_broker_scheme_is_a_clear_error(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BROKER_URL", url)
    with pytest.raises(ValidationError) as info:
        Settings()
    (problem,) = info.value.errors()
    assert "BROKER_URL must start with amqp://, amqps://, redis:// or rediss://" in problem["msg"]
    assert "embedded" in problem["msg"]


@pytest.mark.parametrize("url", ["amqp://g:g@h/", "amqps://h/", "redis://h:6379/0", "rediss://h/"])
def test_known_broker_schemes_accepted(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BROKER_URL", url)
    settings = Settings()
    assert not settings.embedded
    assert settings.broker_url is not None
    assert settings.broker_url.get_secret_value() == url


@pytest.mark.parametrize(
    ("url", "kind"),
    [
        ("amqp://g:g@127.0.0.1:1/", "rabbitmq"),
        ("amqps://g:g@127.0.0.1:1/", "rabbitmq"),
        ("redis://127.0.0.1:1/0", "redis"),
        ("rediss://127.0.0.1:1/0", "redis"),
        ("AMQP://g:g@127.0.0.1:1/", "rabbitmq"),
        ("Redis://127.0.0.1:1/0", "redis"),
        ("amqp", "rabbitmq"),
        ("redis", "redis"),
    ],
)
def test_accepted_broker_url_builds_that_broker(
    url: str, kind: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Settings and the broker factory agree: a BROKER_URL is rejected up front or works."""
    monkeypatch.setenv("BROKER_URL", url)
    try:
        settings = Settings()
    except ValidationError:
        return
    built = brokers.create(settings)
    try:
        assert brokers.kind(built) == kind
    finally:
        built.close()


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("ZOOMHOOKS_MAX_BODY_BYTES", "abc"),
        ("ZOOMHOOKS_MAX_BODY_BYTES", "0"),
        ("ZOOMHOOKS_TIMESTAMP_TOLERANCE_SECONDS", "-1"),
        ("ZOOMHOOKS_FUTURE_SKEW_SECONDS", "1.5"),
        ("ZOOMHOOKS_LEASE_SECONDS", "2"),
        ("ZOOMHOOKS_COMMIT_DEADLINE_SECONDS", "0"),
        ("ZOOMHOOKS_SWEEP_INTERVAL_SECONDS", "0"),
        ("ZOOMHOOKS_MAX_ATTEMPTS", "0"),
        ("ZOOMHOOKS_WORKER_THREADS", "0"),
        ("ZOOMHOOKS_DB_POOL_SIZE", "0"),
        ("ZOOMHOOKS_QUEUE_PREFIX", "has space"),
        ("ZOOMHOOKS_QUEUE_PREFIX", "1starts-with-digit"),
        ("ZOOMHOOKS_QUEUE_PREFIX", "x" * 65),
        ("ZOOMHOOKS_LOG_LEVEL", "verbose"),
    ],
)
def test_invalid_values_rejected(name: str, value: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError):
        Settings()


def test_settings_are_frozen() -> None:
    settings = Settings()
    with pytest.raises(ValidationError):
        settings.max_attempts = 1


# --- the CLI's error for invalid configuration ---------------------------------------------


def cli_env(**extra: str) -> dict[str, str]:
    return {"ZOOM_WEBHOOK_SECRET_TOKEN": f"{OLD_SECRET},{NEW_SECRET}", **extra}


def assert_one_clear_line(output: str, *expected: str) -> None:
    lines = output.strip().splitlines()
    assert len(lines) == 1, output
    assert lines[0].startswith("Error: invalid configuration: "), output
    for text in expected:
        assert text in lines[0]
    for secret in (OLD_SECRET, NEW_SECRET, DB_PASSWORD, BROKER_PASSWORD):
        assert secret not in output


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"ZOOMHOOKS_MAX_BODY_BYTES": "abc"}, ["ZOOMHOOKS_MAX_BODY_BYTES", "integer"]),
        (
            {"BROKER_URL": f"http://zh:{BROKER_PASSWORD}@mq.internal/"},
            ["BROKER_URL", "amqp://"],
        ),
        ({"ZOOMHOOKS_LOG_LEVEL": "loud"}, ["ZOOMHOOKS_LOG_LEVEL"]),
        ({"ZOOMHOOKS_QUEUE_PREFIX": "a b"}, ["ZOOMHOOKS_QUEUE_PREFIX"]),
    ],
    ids=["max-body-bytes", "broker-url", "log-level", "queue-prefix"],
)
@pytest.mark.parametrize("command", ["migrate", "serve", "worker", "sweep"])
def test_cli_invalid_configuration_one_line(
    command: str, env: dict[str, str], expected: list[str], clean_environment: Path
) -> None:
    result = CliRunner().invoke(main, [command], env=cli_env(**env))
    assert result.exit_code == 1
    assert isinstance(result.exception, SystemExit)
    assert result.stdout == ""
    assert_one_clear_line(result.stderr, *expected)
    assert not (clean_environment / "data").exists()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (None, ["ZOOMHOOKS_CONFIG", "cannot read", "No such file"]),
        ("[apps.a]\n", ["ZOOMHOOKS_CONFIG", "[apps.a]", "secret_tokens"]),
        ("[apps.a\n", ["ZOOMHOOKS_CONFIG", "not valid TOML"]),
    ],
    ids=["missing", "incomplete-app", "not-toml"],
)
def test_cli_bad_config_file_one_line(
    text: str | None, expected: list[str], clean_environment: Path
) -> None:
    path = clean_environment / "zoomhooks.toml"
    if text is not None:
        path.write_text(text)
    result = CliRunner().invoke(main, ["migrate"], env=cli_env(ZOOMHOOKS_CONFIG=str(path)))
    assert result.exit_code == 1
    assert_one_clear_line(result.stderr, *expected)
    assert "Value error" not in result.stderr


@pytest.mark.parametrize(
    "database_url",
    ["not a url", f"nosuchdb://zh:{DB_PASSWORD}@db.internal/zh"],
    ids=["not-a-url", "unknown-dialect"],
)
def test_cli_bad_database_url_one_line(database_url: str) -> None:
    result = CliRunner().invoke(main, ["migrate"], env=cli_env(DATABASE_URL=database_url))
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    assert result.exit_code == 1
    assert_one_clear_line(result.stderr, "DATABASE_URL")


def test_cli_subprocess_bad_max_body_bytes(clean_environment: Path) -> None:
    """The real entry point, as an operator sees it: one line on stderr, exit 1, no secret."""
    env = {
        "PATH": os.environ.get("PATH", ""),
        "ZOOM_WEBHOOK_SECRET_TOKEN": f"{OLD_SECRET},{NEW_SECRET}",
        "DATABASE_URL": f"postgresql://zh:{DB_PASSWORD}@127.0.0.1:1/zh",
        "ZOOMHOOKS_MAX_BODY_BYTES": "abc",
    }
    zoomhooks = Path(sys.executable).with_name("zoomhooks")
    done = subprocess.run(
        [str(zoomhooks), "migrate"],
        env=env,
        cwd=clean_environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1
    assert done.stdout == ""
    assert "Traceback" not in done.stderr
    assert_one_clear_line(done.stderr, "ZOOMHOOKS_MAX_BODY_BYTES")


# --- recording downloads ----------------------------------------------------------------


def test_recording_downloads_are_off_unless_a_storage_is_set() -> None:
    assert Settings().recording_downloads is None


def test_recording_downloads_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ZOOMHOOKS_RECORDINGS_STORAGE", "file:///var/lib/zoomhooks/recordings/")
    monkeypatch.setenv("ZOOMHOOKS_RECORDINGS_FILE_TYPES", "mp4,m4a")
    downloads = Settings().recording_downloads
    assert downloads is not None
    assert downloads.storage.display == "file:///var/lib/zoomhooks/recordings"
    assert downloads.wants("MP4") and downloads.wants("m4a")
    assert not downloads.wants("TRANSCRIPT") and not downloads.wants(None)
    assert downloads.threads == 2


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("/var/lib/recordings", "must be file:///absolute/directory or s3://bucket/prefix"),
        ("ftp://host/dir", "must be file:///absolute/directory or s3://bucket/prefix"),
        ("file://relative/dir", "a file:// URL has no host"),
        ("file:///", "needs an absolute directory"),
        ("s3:///prefix", "s3:// needs a bucket"),
        ("s3://key:secret@bucket/p", "takes no query, fragment or credentials"),
        ("s3://bucket/p?region=eu", "takes no query, fragment or credentials"),
        ("s3://bucket/a/../b", "a . or .. segment"),
    ],
)
def test_a_bad_storage_url_is_a_clear_error_at_start(
    url: str, message: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ZOOMHOOKS_RECORDINGS_STORAGE", url)
    with pytest.raises(ValidationError) as info:
        Settings()
    (problem,) = info.value.errors()
    assert message in problem["msg"]
    assert "secret" not in problem["msg"]


def test_an_unknown_file_type_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ZOOMHOOKS_RECORDINGS_FILE_TYPES", "MP4,MOV")
    with pytest.raises(ValidationError, match="unknown file type MOV"):
        Settings()
