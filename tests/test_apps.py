"""Several Zoom apps and accounts from ZOOMHOOKS_CONFIG, beside the single-app environment."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from service import apps
from service.apps import DEFAULT_APP, App, ConfigError, Credentials, Limits
from tests.conftest import MakeSettings

DEFAULTS = Limits("pro", 0.5)

CONFIG = """
[apps.marketing]
account_id = "acctA"
secret_tokens = ["new-secret", "old-secret"]
client_id = "cidA"
client_secret_env = "MKT_CLIENT_SECRET"

[apps.sales]
account_id = "acctB"
secret_tokens_env = "SALES_SECRETS"

[accounts.acctA]
plan = "Business+"
share = 0.25
daily_cap = 90000
"""
ENV = {"MKT_CLIENT_SECRET": "shh-client", "SALES_SECRETS": "s1, s2"}


def load(text: str | None, environ: dict[str, str] | None = None, **kw: object) -> apps.Apps:
    return apps.load(
        text,
        environ=ENV if environ is None else environ,
        default_app=kw.get("default_app"),  # type: ignore[arg-type]
        default_limits=DEFAULTS,
    )


def test_apps_accounts_and_secrets_from_the_file_and_the_environment() -> None:
    found = load(CONFIG)
    marketing, sales = found.apps["marketing"], found.apps["sales"]
    assert marketing.path == "/webhooks/zoom/marketing"
    assert marketing.secrets == (b"new-secret", b"old-secret")
    assert marketing.credentials == Credentials("acctA", "cidA", "shh-client")
    assert sales.secrets == (b"s1", b"s2") and sales.credentials is None
    assert found.limits["acctA"] == Limits("business", 0.25, 90000)
    assert found.default_limits == DEFAULTS


def test_follow_ups_use_the_credentials_of_the_account_that_sent_the_event() -> None:
    env_app = App(DEFAULT_APP, "acctE", (b"e",), Credentials("acctE", "cidE", "sE"))
    found = load(CONFIG, default_app=env_app)
    assert found.credentials_for("acctA") == Credentials("acctA", "cidA", "shh-client")
    assert found.credentials_for("acctE") == env_app.credentials
    # The single-app setup serves whatever account Zoom names, as before.
    assert found.credentials_for("someone-else") == env_app.credentials
    assert load(CONFIG).credentials_for("acctB") is None
    assert [c.account_id for c in found.credentials()] == ["acctE", "acctA"]


def test_secrets_never_show_in_reprs_and_all_reach_the_redactor() -> None:
    found = load(CONFIG)
    text = repr(found)
    for secret in ("new-secret", "old-secret", "shh-client", "s1"):
        assert secret not in text
        assert secret in found.secret_values()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[apps.x\n", "not valid TOML"),
        ("[other]\n", "unknown sections"),
        ("[apps.Bad_Name]\nsecret_tokens=['a']\n", "app name"),
        ("[apps.default]\nsecret_tokens=['a']\n", "app name"),
        ("[apps.a]\n", "secret_tokens"),
        ("[apps.a]\nsecret_tokens=[1]\n", "list of non-empty strings"),
        ("[apps.a]\nsecret_tokens=['a']\nclient_id='c'\n", "together"),
        ("[apps.a]\nsecret_tokens_env='NOPE'\n", "NOPE, which is not set"),
        ("[apps.a]\nsecret_tokens=['a']\nsecret='x'\n", "unknown keys"),
        ("[accounts.x]\nplan='platinum'\n", "unknown Zoom plan"),
        ("[accounts.x]\nshare=2\n", "share"),
        ("[accounts.x]\nshare='half'\n", "share must be a number"),
        ("[accounts.x]\ndaily_cap=1.5\n", "whole number"),
        ("apps = 3\n", "must hold tables"),
    ],
)
def test_a_bad_file_is_refused_naming_where(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load(text)


def test_settings_read_the_file_once(
    tmp_path: Path, make_settings: MakeSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SALES_SECRETS", "s1")
    path = tmp_path / "zoomhooks.toml"
    inline = CONFIG.replace('client_secret_env = "MKT_CLIENT_SECRET"', 'client_secret = "x"')
    path.write_text(inline)
    settings = make_settings(config_file=str(path), webhook_secret_token="env-secret")
    assert sorted(settings.apps.apps) == ["default", "marketing", "sales"]
    assert settings.apps.apps["default"].secrets == (b"env-secret",)
    assert settings.zoom_configured
    assert "x" in settings.secret_values()


def test_settings_name_a_missing_or_broken_file(
    tmp_path: Path, make_settings: MakeSettings
) -> None:
    with pytest.raises(ValidationError, match="cannot read"):
        make_settings(config_file=str(tmp_path / "missing.toml"))
    broken = tmp_path / "broken.toml"
    broken.write_text("[apps.a]\n")
    with pytest.raises(ValidationError, match=r"\[apps.a\]: give secret_tokens"):
        make_settings(config_file=str(broken))


def test_the_environment_alone_keeps_working(make_settings: MakeSettings) -> None:
    settings = make_settings(zoom_plan="business+", zoom_rate_share=0.3)
    assert list(settings.apps.apps) == ["default"]
    assert settings.apps.default_limits == Limits("business", 0.3)
    for alias in ("Enterprise", "education", "partner"):
        assert make_settings(zoom_plan=alias).zoom_plan == "business"
    with pytest.raises(ValidationError, match="unknown Zoom plan"):
        make_settings(zoom_plan="gold")


def test_an_app_bound_to_an_account_vouches_for_that_account_only() -> None:
    env_app = App(DEFAULT_APP, "acctE", (b"e",), Credentials("acctE", "cidE", "sE"))
    found = load(CONFIG, default_app=env_app)
    marketing = Credentials("acctA", "cidA", "shh-client")
    assert found.credentials_for("acctA", app="marketing") == marketing
    assert found.credentials_for(None, app="marketing") == marketing
    with pytest.raises(apps.NotBound, match=r"'marketing'.*'acctE'.*'acctA'"):
        found.credentials_for("acctE", app="marketing")
    with pytest.raises(apps.NotBound):  # acctA is marketing's: the environment's app can't
        found.credentials_for("acctA", app=DEFAULT_APP)
    # The environment's app still serves an account no app claims, with its own credentials.
    assert found.credentials_for("acct-nobody-claims", app=DEFAULT_APP) == env_app.credentials
    # Sales serves acctB, which has no credentials: the environment's app is not lent to it.
    assert found.credentials_for("acctB", app="sales") is None
    assert found.credentials_for("acctB") is None
    with pytest.raises(apps.NotBound, match="no longer configured"):
        found.credentials_for("acctA", app="gone")


WEBSOCKET = """
[apps.events]
account_id = "acctW"
client_id = "cidW"
client_secret = "sW"
subscription_id = "Sub-123_abc"

[apps.both]
account_id = "acctX"
secret_tokens = ["x"]
client_id = "cidX"
client_secret = "sX"
subscription_id = "sub.456"
"""


def test_an_app_may_take_its_events_over_a_websocket_with_or_without_webhooks() -> None:
    found = load(WEBSOCKET)
    events, both = found.apps["events"], found.apps["both"]
    assert events.subscription_id == "Sub-123_abc" and events.secrets == ()
    assert both.subscription_id == "sub.456" and both.secrets == (b"x",)
    assert [app.name for app in found.subscriptions()] == ["events", "both"]
    assert load(CONFIG).subscriptions() == []


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[apps.a]\nsubscription_id='s'\n", r"\[apps.a\]: the WebSocket is opened with .* token"),
        (
            "[apps.a]\nsubscription_id='s'\naccount_id='a'\nclient_id='c'\n",
            "together",
        ),
        (
            "[apps.a]\nsubscription_id='has space'\naccount_id='a'\nclient_id='c'\n"
            "client_secret='s'\n",
            "a subscription id is the one Zoom shows",
        ),
        ("[apps.a]\nsubscription_id=''\n", "non-empty string"),
        (
            "[apps.a]\nsubscription_id='s'\naccount_id='a'\nclient_id='c'\nclient_secret='x'\n"
            "[apps.b]\nsubscription_id='s'\naccount_id='b'\nclient_id='d'\nclient_secret='y'\n",
            r"\[apps.b\]: subscription_id 's' is also app 'a'",
        ),
    ],
)
def test_a_bad_subscription_is_refused_naming_where(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load(text)


def test_the_environment_app_takes_a_subscription_with_its_credentials(
    make_settings: MakeSettings,
) -> None:
    settings = make_settings(
        webhook_secret_token=None,
        zoom_account_id="acctE",
        zoom_client_id="cidE",
        zoom_client_secret="sE",
        zoom_websocket_subscription_id=" sub-env ",
    )
    assert [(a.name, a.subscription_id) for a in settings.apps.subscriptions()] == [
        ("default", "sub-env")
    ]
    with pytest.raises(ValidationError, match=r"ZOOM_WEBSOCKET_SUBSCRIPTION_ID: .*ZOOM_CLIENT_ID"):
        make_settings(zoom_websocket_subscription_id="sub-env")
    with pytest.raises(ValidationError, match="ws"):
        make_settings(zoom_websocket_url="https://ws.zoom.us/ws")
