"""Redaction (headers, URLs, bodies) and configuration from arguments and the environment."""

from __future__ import annotations

import json
import logging
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest
from hypothesis import given
from hypothesis import strategies as st

from atriumn.core import ConfigurationError, Transport, parse_duration, redact_body, redact_headers, redact_url
from atriumn.core._redact import REDACTED, is_secret_key, redact_text

# --- headers ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    ["Authorization", "authorization", "Proxy-Authorization", "x-api-key", "X-Goog-Api-Key", "api-key", "Cookie",
     "Set-Cookie", "X-Amz-Security-Token"],
)  # fmt: skip
def test_credential_headers_are_redacted(name: str) -> None:
    out = redact_headers([(name, "s3cr3t-value"), ("Content-Type", "application/json")])
    assert out == {name: REDACTED, "Content-Type": "application/json"}
    assert redact_headers({name: "s3cr3t-value"}) == {name: REDACTED}


# --- URLs -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "param", ["signature", "Signature", "X-Amz-Signature", "X-Amz-Credential", "token", "access_token", "api_key",
              "apikey", "key_secret", "sig", "X-Amz-Security-Token", "code"],
)  # fmt: skip
def test_secret_query_values_are_redacted(param: str) -> None:
    url = f"https://bucket.example/a/b.txt?expires=123&{param}=SeCrEtVaLuE42&nextToken=abc"
    out = redact_url(url)
    assert "SeCrEtVaLuE42" not in out
    query = dict(parse_qsl(urlsplit(out).query))
    assert query[param] == REDACTED
    assert query["expires"] == "123"
    assert query["nextToken"] == "abc"  # pagination tokens are not secrets
    assert out.startswith("https://bucket.example/a/b.txt?")


def test_userinfo_is_dropped_and_plain_urls_untouched() -> None:
    assert redact_url("https://user:pa55word@host.example/x?q=1") == "https://host.example/x?q=1"
    assert redact_url("https://host.example/x/y") == "https://host.example/x/y"


@given(st.text(alphabet="ABCDEFGHJKLMNPQRSTUVWXYZ0123456789", min_size=12, max_size=40))
def test_signatures_never_survive(secret: str) -> None:
    url = "https://h.example/p?" + urlencode({"X-Amz-Signature": secret, "signature": secret, "page": "2"})
    assert secret not in redact_url(url)


# --- bodies -----------------------------------------------------------------------------------------------


def test_json_bodies_by_key_at_any_depth() -> None:
    body = {
        "username": "bob",
        "password": "pw-SECRET-1",
        "client_secret": "cs-SECRET-2",
        "nested": {"refresh_token": "rt-SECRET-3", "list": [{"apiKey": "ak-SECRET-4"}, {"x-api-key": "xk-SECRET-5"}]},
        "token_type": "Bearer",
        "expires_in": 3600,
        "max_tokens": 10,
        "nextToken": "page-2",
        "confirmation_code": "123456",
    }
    out = redact_body(json.dumps(body).encode(), "application/json")
    for secret in ("pw-SECRET-1", "cs-SECRET-2", "rt-SECRET-3", "ak-SECRET-4", "xk-SECRET-5", "123456"):
        assert secret not in out
    doc = json.loads(out)
    assert doc["username"] == "bob"
    assert (doc["token_type"], doc["expires_in"], doc["max_tokens"], doc["nextToken"]) == ("Bearer", 3600, 10, "page-2")


def test_form_bodies() -> None:
    body = urlencode({"grant_type": "client_credentials", "client_id": "cid", "client_secret": "cs-SECRET"})
    out = redact_body(body, "application/x-www-form-urlencoded")
    assert "cs-SECRET" not in out
    assert dict(parse_qsl(out)) == {"grant_type": "client_credentials", "client_id": "cid", "client_secret": REDACTED}


def test_text_bodies_and_broken_json() -> None:
    text = '{"password": "pw-SECRET", "token": "tk-SECRET" (truncated'
    out = redact_body(text, "application/json")
    assert "pw-SECRET" not in out and "tk-SECRET" not in out
    assert "Bearer bt-SECRET.x" not in redact_text("Authorization: Bearer bt-SECRET.x")


def test_bodies_are_truncated() -> None:
    out = redact_body(b"x" * 5000, "text/plain")
    assert len(out) <= 2049 and out.endswith("…")


SECRET_KEYS = ["password", "client_secret", "secret", "access_token", "refresh_token", "api_key", "apiKey",
               "authorization", "privateKey", "sessionId", "signature", "credential"]  # fmt: skip
secret_keys = st.sampled_from(SECRET_KEYS)
secret_values = st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=6, max_size=20).map(lambda s: "ZQX" + s)
json_docs = st.recursive(
    st.dictionaries(secret_keys, secret_values, min_size=1, max_size=3),
    lambda inner: st.dictionaries(st.sampled_from(["a", "data", "items"]), inner | st.lists(inner, max_size=3)),
    max_leaves=8,
)


@given(json_docs)
def test_no_secret_value_survives_json_redaction(doc: dict[str, object]) -> None:
    out = redact_body(json.dumps(doc), "application/json")
    assert "ZQX" not in out


@given(st.from_regex(r"[a-z_]{1,12}", fullmatch=True))
def test_token_counts_are_not_secrets(prefix: str) -> None:
    assert not is_secret_key(prefix + "_tokens")


# --- durations --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("30", 30), ("2.5", 2.5), ("30s", 30), ("1m30s", 90), ("250ms", 0.25), ("1h", 3600), ("1h2m3s", 3723),
     ("1.5s", 1.5), ("500us", 0.0005), ("100ns", 1e-7), ("0", 0), (" 45s ", 45), (12, 12), (0.5, 0.5)],
)  # fmt: skip
def test_parse_duration(text: str | float, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@given(
    h=st.integers(min_value=0, max_value=100),
    m=st.integers(min_value=0, max_value=59),
    s=st.integers(min_value=0, max_value=59),
    ms=st.integers(min_value=0, max_value=999),
)
def test_go_durations_add_up(h: int, m: int, s: int, ms: int) -> None:
    text = f"{h}h{m}m{s}s{ms}ms"
    assert parse_duration(text) == pytest.approx(h * 3600 + m * 60 + s + ms / 1000)


@pytest.mark.parametrize("bad", ["", "abc", "30x", "1m30", "-1s", "-5", "s", "1.2.3s", "inf", "nan", "10 s", True])
def test_bad_durations_name_the_variable(bad: object) -> None:
    with pytest.raises(ConfigurationError) as info:
        parse_duration(bad, name="ATRIUMN_REQUEST_TIMEOUT")  # type: ignore[arg-type]
    assert "ATRIUMN_REQUEST_TIMEOUT" in str(info.value)


# --- the environment ---------------------------------------------------------------------------------------


def test_environment_values_are_used() -> None:
    env = {"ATRIUMN_API_BASE_URL": "http://api.test:8080/", "ATRIUMN_REQUEST_TIMEOUT": "1m30s",
           "ATRIUMN_MAX_RETRIES": "7"}  # fmt: skip
    t = Transport(environ=env)
    assert (t.base_url, t.deadline, t.retry.max_retries) == ("http://api.test:8080", 90.0, 7)
    t.close()


def test_arguments_win_over_the_environment() -> None:
    from atriumn.core import RetryPolicy

    env = {"ATRIUMN_API_BASE_URL": "http://env.test", "ATRIUMN_REQUEST_TIMEOUT": "5", "ATRIUMN_MAX_RETRIES": "7"}
    t = Transport("http://arg.test", deadline=3, max_retries=1, environ=env)
    assert (t.base_url, t.deadline, t.retry.max_retries) == ("http://arg.test", 3, 1)
    t2 = Transport(retry=RetryPolicy(max_retries=2), environ=env)
    assert t2.retry.max_retries == 2


def test_defaults() -> None:
    t = Transport(environ={})
    assert (t.base_url, t.deadline, t.retry.max_retries) == ("https://api.atriumn.com", 120.0, 3)
    assert (t.timeouts.connect, t.timeouts.read, t.timeouts.write, t.timeouts.pool) == (5, 60, 60, 10)
    assert (t.limits.max_connections, t.limits.max_keepalive_connections, t.limits.keepalive_expiry) == (100, 20, 5)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("ATRIUMN_REQUEST_TIMEOUT", "soon"),
        ("ATRIUMN_REQUEST_TIMEOUT", "-3s"),
        ("ATRIUMN_MAX_RETRIES", "three"),
        ("ATRIUMN_MAX_RETRIES", "-1"),
        ("ATRIUMN_MAX_RETRIES", "2.5"),
        ("ATRIUMN_API_BASE_URL", "ftp://files.example"),
        ("ATRIUMN_API_BASE_URL", "api.atriumn.com"),
    ],
)
def test_bad_environment_values_name_the_variable(name: str, value: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        Transport(environ={name: value})
    assert name in str(info.value)
    assert isinstance(info.value, ValueError)


def test_zero_deadline_is_rejected() -> None:
    with pytest.raises(ConfigurationError, match="deadline"):
        Transport(environ={"ATRIUMN_REQUEST_TIMEOUT": "0s"})


@pytest.fixture
def restore_debug_logging() -> object:
    from atriumn.core import _telemetry

    log = logging.getLogger("atriumn")
    level, handlers, installed = log.level, list(log.handlers), _telemetry._debug_handler
    yield
    log.setLevel(level)
    log.handlers[:] = handlers
    _telemetry._debug_handler = installed


def test_bad_atriumn_debug_names_the_variable(monkeypatch: pytest.MonkeyPatch, restore_debug_logging: object) -> None:
    monkeypatch.setenv("ATRIUMN_DEBUG", "maybe")
    with pytest.raises(ConfigurationError, match="ATRIUMN_DEBUG"):
        Transport()


def test_atriumn_debug_turns_on_a_stderr_handler(
    monkeypatch: pytest.MonkeyPatch, restore_debug_logging: object
) -> None:
    from atriumn.core import _telemetry

    _telemetry._debug_handler = None
    log = logging.getLogger("atriumn")
    log.handlers[:] = [h for h in log.handlers if h is not _telemetry._debug_handler]
    monkeypatch.setenv("ATRIUMN_DEBUG", "0")
    Transport()
    assert _telemetry._debug_handler is None
    monkeypatch.setenv("ATRIUMN_DEBUG", "1")
    Transport()
    assert _telemetry._debug_handler in log.handlers
    assert log.level == logging.DEBUG
    Transport()
    assert sum(1 for h in log.handlers if isinstance(h, logging.StreamHandler)) >= 1
    assert log.handlers.count(_telemetry._debug_handler) == 1  # idempotent


def test_credentials_must_be_a_provider() -> None:
    with pytest.raises(ConfigurationError, match="credentials"):
        Transport("http://x.test", credentials="sk-raw-string")  # type: ignore[arg-type]
