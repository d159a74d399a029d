"""resolve_api_settings and ApiSettings: every bad value is one clean PikeConfigError, never a leak."""

from __future__ import annotations

import logging
import sys
import traceback

import pytest

from pike_tasks import settings as settings_module
from pike_tasks.errors import PikeConfigError
from pike_tasks.settings import ApiSettings, prefect_api_configured, resolve_api_settings

PIKE_VARS = ("PIKE_API_BASE_URL", "PIKE_API_SECRET", "PIKE_API_RATE_LIMIT", "PIKE_API_REQUEST_DEADLINE",
             "PIKE_API_FETCH_DEADLINE", "PIKE_API_ALLOW_INSECURE_HTTP")
# Each bad secret, and the parts of it a careless message could still show.
BAD_SECRETS = {
    "line break": ("sk-live-AAAA1111\nBBBB2222", ["sk-live-AAAA1111", "BBBB2222"]),
    "carriage return": ("sk-live-AAAA1111\r\nX-Evil: 1", ["sk-live-AAAA1111", "X-Evil"]),
    "non-ASCII": ("sk-live-CCCC3333é", ["sk-live-CCCC3333", "é"]),
    "emoji": ("sk-live-DDDD🚀4444", ["sk-live-DDDD", "4444", "🚀"]),
    "space": ("sk-live-EEEE5555 FFFF6666", ["sk-live-EEEE5555", "FFFF6666"]),
    "tab": ("sk-live-GGGG\t7777", ["sk-live-GGGG", "7777"]),
    "control": ("sk-live-HHHH\x1b8888", ["sk-live-HHHH", "8888"]),
    "too long": ("sk-" + "Z" * 5000, ["ZZZZZZZZ"]),
}


@pytest.fixture
def clean_env(monkeypatch):
    """No PIKE_API_* variables and no Secret block lookup."""
    monkeypatch.setattr(settings_module, "load_secret_block", lambda: None)
    for name in PIKE_VARS:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def assert_clean(exc: BaseException, parts: list[str], caplog) -> None:
    """No part of the secret in the message, the repr, the log, or any exception chained to it."""
    texts = [str(exc), repr(exc), caplog.text, "".join(traceback.format_exception(exc))]
    for text in texts:
        for part in parts:
            assert part not in text
    assert "\n" not in str(exc)


# -- 1. the secret's shape -------------------------------------------------------------------

@pytest.mark.parametrize("kind", BAD_SECRETS)
@pytest.mark.parametrize("where", ["env", "argument", "block", "settings"])
def test_malformed_secret_is_one_clean_error_that_never_quotes_it(clean_env, caplog, kind, where):
    caplog.set_level(logging.DEBUG)
    secret, parts = BAD_SECRETS[kind]
    clean_env.setenv("PIKE_API_BASE_URL", "https://api.example.com")
    with pytest.raises(PikeConfigError) as info:
        if where == "env":
            clean_env.setenv("PIKE_API_SECRET", secret)
            resolve_api_settings()
        elif where == "argument":
            resolve_api_settings(secret=secret)
        elif where == "block":
            clean_env.setattr(settings_module, "load_secret_block", lambda: secret)
            resolve_api_settings()
        else:
            ApiSettings("https://api.example.com", secret)
    assert_clean(info.value, parts + [secret], caplog)
    message = str(info.value)
    assert "cannot be used as a Pike API secret" in message
    expected_source = {"env": "PIKE_API_SECRET", "argument": "The secret argument",
                       "block": "Secret block 'pike-api-secret'", "settings": "The API secret"}[where]
    assert expected_source in message


def test_surrounding_whitespace_is_trimmed_not_refused(clean_env):
    clean_env.setenv("PIKE_API_SECRET", "  sk-live-ok-123\n")  # e.g. a secret file with a final newline
    assert resolve_api_settings().secret == "sk-live-ok-123"


def test_secret_shape_errors_name_the_problem(clean_env):
    for kind, expected in [("line break", "line break"), ("non-ASCII", "non-ASCII"), ("space", "whitespace"),
                           ("control", "control character"), ("too long", "longer than 1024")]:
        with pytest.raises(PikeConfigError, match=expected):
            ApiSettings("https://api.example.com", BAD_SECRETS[kind][0])


# -- 3. values that used to give tracebacks or hangs -----------------------------------------

@pytest.mark.parametrize(("url", "expected"), [
    ("http://[::1", "Invalid IPv6 URL"),
    ("http://[::1/x", "Invalid IPv6 URL"),
    ("https://api.example.com:99999", "Port out of range"),
    ("https://api.example.com:http", "Port could not be cast"),
])
def test_unparsable_base_url_names_the_variable(clean_env, url, expected):
    clean_env.setenv("PIKE_API_BASE_URL", url)
    clean_env.setenv("PIKE_API_SECRET", "sk-ok")
    with pytest.raises(PikeConfigError) as info:
        resolve_api_settings()
    assert str(info.value).startswith("PIKE_API_BASE_URL ") and expected in str(info.value)
    with pytest.raises(PikeConfigError, match="The base_url argument"):
        resolve_api_settings(url, "sk-ok")


def test_credentials_in_an_unparsable_url_are_not_shown(clean_env):
    with pytest.raises(PikeConfigError) as info:
        resolve_api_settings("http://user:pa55word@[::1", "sk-ok")
    assert "pa55word" not in str(info.value) and "user" not in str(info.value)


@pytest.mark.parametrize("rate", ["1e-300", "0.001", "0.09", "-1", "nan", "inf", "fast", "1e400"])
def test_rate_limit_below_the_floor_or_not_a_number_is_refused(clean_env, rate):
    clean_env.setenv("PIKE_API_SECRET", "sk-ok")
    clean_env.setenv("PIKE_API_RATE_LIMIT", rate)
    with pytest.raises(PikeConfigError) as info:
        resolve_api_settings()
    assert str(info.value).startswith("PIKE_API_RATE_LIMIT must be 0 (off) or at least 0.1 requests per second")


@pytest.mark.parametrize("rate", ["0", "0.1", "2.5", "1000"])
def test_sane_rate_limits_are_accepted(clean_env, rate):
    clean_env.setenv("PIKE_API_SECRET", "sk-ok")
    clean_env.setenv("PIKE_API_RATE_LIMIT", rate)
    assert resolve_api_settings().rate_limit_per_sec == float(rate)


def test_no_rate_limit_set_means_adaptive_without_a_ceiling(clean_env):
    clean_env.setenv("PIKE_API_SECRET", "sk-ok")
    assert resolve_api_settings().rate_limit_per_sec is None
    assert ApiSettings("https://api.example.com", "sk-ok").rate_limit_per_sec is None


def test_api_settings_refuses_tiny_rates_too():
    for rate in (1e-300, 0.001, -1.0, float("nan")):
        with pytest.raises(PikeConfigError, match="at least 0.1"):
            ApiSettings("https://api.example.com", "sk-ok", rate_limit_per_sec=rate)


@pytest.mark.parametrize("name", ["PIKE_API_REQUEST_DEADLINE", "PIKE_API_FETCH_DEADLINE"])
def test_deadlines_from_the_environment(clean_env, name):
    clean_env.setenv("PIKE_API_SECRET", "sk-ok")
    field = "request_deadline" if name == "PIKE_API_REQUEST_DEADLINE" else "fetch_deadline"
    assert getattr(resolve_api_settings(), field) == {"request_deadline": 60.0, "fetch_deadline": 1800.0}[field]
    clean_env.setenv(name, "2.5")
    assert getattr(resolve_api_settings(), field) == 2.5
    for bad in ("0", "-1", "soon", "inf", "nan"):
        clean_env.setenv(name, bad)
        with pytest.raises(PikeConfigError, match=f"^{name} must be a positive number of seconds"):
            resolve_api_settings()
    with pytest.raises(PikeConfigError, match=field):
        ApiSettings("https://api.example.com", "sk-ok", **{field: 0})


# -- 4. plain http only to loopback, unless opted in ----------------------------------------

@pytest.mark.parametrize("url", ["http://api.example.com", "http://10.0.0.5:8080/pike", "HTTP://Api.Example.com",
                                 "http://[2001:db8::1]", "http://0.0.0.0:8000", "http://localhost.evil.example"])
def test_plain_http_to_another_host_is_refused(clean_env, url):
    clean_env.setenv("PIKE_API_SECRET", "sk-live-do-not-send")
    clean_env.setenv("PIKE_API_BASE_URL", url)
    with pytest.raises(PikeConfigError) as info:
        resolve_api_settings()
    assert "clear text" in str(info.value) and "PIKE_API_ALLOW_INSECURE_HTTP=1" in str(info.value)
    assert "sk-live-do-not-send" not in str(info.value)
    with pytest.raises(PikeConfigError, match="PIKE_API_ALLOW_INSECURE_HTTP"):
        ApiSettings(url, "sk-ok")  # the client cannot be built around the check either
    clean_env.setenv("PIKE_API_ALLOW_INSECURE_HTTP", "1")
    assert resolve_api_settings().allow_insecure_http
    assert ApiSettings(url, "sk-ok", allow_insecure_http=True).base_url == url


@pytest.mark.parametrize("url", ["http://127.0.0.1:8000", "http://127.8.9.10", "http://[::1]:9000", "http://localhost",
                                 "http://LOCALHOST:1/x", "https://api.example.com"])
def test_loopback_and_https_need_no_opt_in(clean_env, url):
    clean_env.setenv("PIKE_API_SECRET", "sk-ok")
    clean_env.setenv("PIKE_API_BASE_URL", url)
    assert resolve_api_settings().base_url == url
    ApiSettings(url, "sk-ok")


def test_opt_in_must_be_a_clear_yes_or_no(clean_env):
    clean_env.setenv("PIKE_API_SECRET", "sk-ok")
    clean_env.setenv("PIKE_API_BASE_URL", "http://api.example.com")
    clean_env.setenv("PIKE_API_ALLOW_INSECURE_HTTP", "0")
    with pytest.raises(PikeConfigError, match="clear text"):
        resolve_api_settings()
    clean_env.setenv("PIKE_API_ALLOW_INSECURE_HTTP", "perhaps")
    with pytest.raises(PikeConfigError, match="^PIKE_API_ALLOW_INSECURE_HTTP must be 1 or 0"):
        resolve_api_settings()


# -- 5. the Secret block only where a Prefect API is configured -----------------------------

def prefect_env(monkeypatch, tmp_path, profiles: str | None = None, **env):
    for name in ("PREFECT_API_URL", "PREFECT_PROFILE", "PREFECT_PROFILES_PATH"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PREFECT_HOME", str(tmp_path))
    if profiles is not None:
        (tmp_path / "profiles.toml").write_text(profiles, encoding="utf-8")
    for name, value in env.items():
        monkeypatch.setenv(name, value)


def test_prefect_api_configured_by_env_or_active_profile(monkeypatch, tmp_path):
    prefect_env(monkeypatch, tmp_path)
    assert not prefect_api_configured()  # Prefect's default: the ephemeral profile
    prefect_env(monkeypatch, tmp_path, PREFECT_API_URL="http://127.0.0.1:4200/api")
    assert prefect_api_configured()
    prefect_env(monkeypatch, tmp_path, 'active = "local"\n')  # `prefect profile use local`: shipped URL
    assert prefect_api_configured()
    prefect_env(monkeypatch, tmp_path, 'active = "work"\n[profiles.work]\nPREFECT_API_URL = "https://x/api"\n')
    assert prefect_api_configured()
    prefect_env(monkeypatch, tmp_path, '[profiles.work]\nPREFECT_API_URL = "https://x/api"\n', PREFECT_PROFILE="work")
    assert prefect_api_configured()
    prefect_env(monkeypatch, tmp_path, 'active = "ephemeral"\n[profiles.work]\nPREFECT_API_URL = "https://x/api"\n')
    assert not prefect_api_configured()
    prefect_env(monkeypatch, tmp_path, "not toml [[[")
    assert not prefect_api_configured()


def test_no_block_lookup_without_a_prefect_api(monkeypatch, tmp_path):
    prefect_env(monkeypatch, tmp_path)
    imported = []

    class Tripwire:  # importing prefect.blocks would start Prefect's temporary API on Secret.load
        def find_spec(self, name, *args):
            if name.startswith("prefect.blocks"):
                imported.append(name)
            return None

    monkeypatch.setattr(sys, "meta_path", [Tripwire(), *sys.meta_path])
    monkeypatch.delitem(sys.modules, "prefect.blocks.system", raising=False)
    assert settings_module.load_secret_block() is None
    assert imported == []


# ---- pike_tasks.config: every environment setting in one value (issue #21) ----------------------
SMTP_ENV = {"PIKE_REPORTS_SMTP_HOST": "smtp.example.com", "PIKE_REPORTS_SMTP_USER": "bot@example.com",
            "PIKE_REPORTS_SMTP_PASSWORD": "pw-do-not-show"}


def test_load_settings_keeps_smtp_and_slack_when_set_and_none_when_not():
    from pike_tasks.config import load_settings

    empty = load_settings({})
    assert empty.smtp is None and empty.slack is None
    both = load_settings({**SMTP_ENV, "PIKE_REPORTS_SLACK_TOKEN": "xoxb-do-not-show"})
    assert both.smtp is not None and both.slack is not None
    assert (both.smtp.host, both.smtp.port, both.smtp.security, both.smtp.sender) == (
        "smtp.example.com", 587, "starttls", "bot@example.com")
    assert both.slack.api_url == "https://slack.com/api/"
    shown = repr(both) + str(both)
    assert "pw-do-not-show" not in shown and "xoxb-do-not-show" not in shown
    assert both.smtp.password is not None and both.smtp.password.get_secret_value() == "pw-do-not-show"


@pytest.mark.parametrize(("extra", "named"), [
    ({"PIKE_REPORTS_SMTP_PORT": "twenty-five"}, "PIKE_REPORTS_SMTP_PORT"),
    ({"PIKE_REPORTS_SMTP_SECURITY": "tls"}, "PIKE_REPORTS_SMTP_SECURITY"),
    ({"PIKE_REPORTS_SMTP_TIMEOUT": "-1"}, "PIKE_REPORTS_SMTP_TIMEOUT"),
    ({"PIKE_REPORTS_SMTP_USER": "bot"}, "PIKE_REPORTS_EMAIL_FROM"),
    ({"PIKE_REPORTS_SLACK_TOKEN": "xoxb-do-not-show", "PIKE_REPORTS_SLACK_API_URL": "http://slack.example.com/api"},
     "PIKE_REPORTS_SLACK_API_URL"),
    ({"PIKE_REPORTS_SLACK_TOKEN": "xoxb-do-not-show", "PIKE_REPORTS_SLACK_API_URL": "ftp://x"},
     "PIKE_REPORTS_SLACK_API_URL"),
])
def test_load_settings_fails_a_bad_smtp_or_slack_setting_in_one_line(extra, named):
    from pike_tasks.config import load_settings

    with pytest.raises(PikeConfigError) as err:
        load_settings({**SMTP_ENV, **extra})
    text = str(err.value)
    assert named in text and "\n" not in text
    assert "pw-do-not-show" not in text and "xoxb-do-not-show" not in text


def test_the_old_from_env_readers_are_the_config_ones():
    from pike_tasks import slack_client
    from pike_tasks.config import settings as config
    from pike_tasks.mailer import SmtpSettings

    parsed = config.load_smtp_env_settings(SMTP_ENV)
    old = SmtpSettings.from_env(SMTP_ENV)
    assert (old.host, old.port, old.sender, old.security, old.username, old.timeout, old.data_timeout) == (
        parsed.host, parsed.port, parsed.sender, parsed.security, parsed.username, parsed.timeout, parsed.data_timeout)
    assert slack_client.SlackSettings is config.SlackSettings
    assert slack_client.SlackSettings.from_env({"PIKE_REPORTS_SLACK_TOKEN": "t"}) == config.load_slack_settings(
        {"PIKE_REPORTS_SLACK_TOKEN": "t"})
