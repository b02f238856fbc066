"""Settings validation and token decoding (pure)."""

from __future__ import annotations

import time
import uuid

import jwt
import pytest

from koprogo_graph.auth import Role, decode_token, token_from_header
from koprogo_graph.config import ConfigError, Settings
from koprogo_graph.errors import Forbidden, Unauthenticated

SECRET = "unit-test-secret-0123456789abcdef"
BASE = {
    "DATABASE_URL": "postgresql://app:pw@db/koprogo",
    "KOPROGO_JWT_SECRET": SECRET,
    "MQTT_URL": "mqtts://dev:topsecret@broker:8883",
}


def test_settings_parse_urls_and_hide_secrets():
    settings = Settings.from_env(BASE)
    assert settings.mqtt.tls and settings.mqtt.port == 8883 and settings.mqtt.username == "dev"
    assert settings.mqtt.password.get() == "topsecret"
    assert "topsecret" not in repr(settings)
    assert "pw@" not in repr(settings)
    assert SECRET not in repr(settings)


@pytest.mark.parametrize(
    ("change", "variable"),
    [
        ({"DATABASE_URL": "mysql://x/y"}, "DATABASE_URL"),
        ({"KOPROGO_JWT_SECRET": ""}, "KOPROGO_JWT_SECRET"),
        ({"KOPROGO_JWT_SECRET": "secret"}, "KOPROGO_JWT_SECRET"),
        ({"KOPROGO_JWT_SECRET": "x" * 31}, "KOPROGO_JWT_SECRET"),
        ({"MQTT_URL": ""}, "MQTT_URL"),
        ({"MQTT_URL": "http://broker"}, "MQTT_URL"),
        ({"KOPROGO_INGEST": "perhaps"}, "KOPROGO_INGEST"),
        ({"REDIS_URL": "tcp://x"}, "REDIS_URL"),
        ({"KOPROGO_OFFLINE_CHECK_SECONDS": "soon"}, "KOPROGO_OFFLINE_CHECK_SECONDS"),
        ({"SMTP_URL": "mailto:x"}, "SMTP_URL"),
    ],
)
def test_bad_settings_name_the_variable_in_one_line(change, variable):
    with pytest.raises(ConfigError) as err:
        Settings.from_env({**BASE, **change})
    assert variable in str(err.value)
    assert "\n" not in str(err.value)


def test_without_database_url_everything_missing_runs_embedded_in_development():
    settings = Settings.from_env(
        {"KOPROGO_EMBEDDED_MQTT_PORT": "0", "KOPROGO_EMBEDDED_AS_ROOT": "1"}
    )
    assert settings.database_url is None and settings.development
    assert settings.mqtt.host == "127.0.0.1" and settings.mqtt.protocol == "3.1.1"
    assert settings.mqtt.share_group is None
    assert [p.split(" ")[0] for p in settings.embedded] == ["PostgreSQL", "MQTT", "in-memory"]


def test_production_configuration_starts_nothing_embedded():
    settings = Settings.from_env({**BASE, "REDIS_URL": "redis://cache:6379/0"})
    assert settings.embedded == []


def test_api_only_replica_needs_no_broker():
    settings = Settings.from_env({**BASE, "MQTT_URL": "", "KOPROGO_INGEST": "false"})
    assert settings.mqtt is None and not settings.ingest


def test_development_has_a_default_secret_production_does_not():
    env = {**BASE, "KOPROGO_JWT_SECRET": ""}
    assert Settings.from_env({**env, "KOPROGO_ENV": "development"}).jwt_secret.get()
    with pytest.raises(ConfigError):
        Settings.from_env(env)


def _token(**claims):
    now = int(time.time())
    base = {
        "sub": str(uuid.uuid4()),
        "role": "syndic",
        "organization_id": str(uuid.uuid4()),
        "iat": now,
        "exp": now + 60,
    }
    return jwt.encode({**base, **claims}, SECRET, algorithm="HS256")


def test_a_valid_token_gives_the_viewer():
    org = uuid.uuid4()
    viewer = decode_token(_token(organization_id=str(org), role="owner"), SECRET)
    assert viewer.organization_id == org and viewer.role is Role.OWNER
    assert viewer.org() == org
    with pytest.raises(Forbidden):
        viewer.require_manager()


def test_a_verified_token_is_remembered_until_it_expires(monkeypatch):
    token = _token()
    first = decode_token(token, SECRET)
    assert decode_token(token, SECRET) is first  # remembered: not verified again
    with pytest.raises(Unauthenticated):  # the same token under another secret
        decode_token(token, "another-secret-entirely-0123456789")
    later = first.expires_at.timestamp()
    monkeypatch.setattr("koprogo_graph.auth.time.time", lambda: later)
    with pytest.raises(Unauthenticated, match="expired"):
        decode_token(token, SECRET)


@pytest.mark.parametrize(
    "token",
    [
        _token(exp=int(time.time()) - 5),
        _token(role="janitor"),
        _token(sub="not-a-uuid"),
        jwt.encode(
            {"sub": str(uuid.uuid4()), "role": "syndic", "exp": int(time.time()) + 60},
            "another-secret-entirely-0123456789",
            algorithm="HS256",
        ),
        jwt.encode(
            {"sub": str(uuid.uuid4()), "role": "syndic", "exp": int(time.time()) + 60},
            None,
            algorithm="none",
        ),
        "garbage",
    ],
)
def test_bad_tokens_are_unauthenticated(token):
    with pytest.raises(Unauthenticated):
        decode_token(token, SECRET)


def test_a_user_without_organization_is_forbidden_data():
    viewer = decode_token(_token(organization_id=None), SECRET)
    with pytest.raises(Forbidden):
        viewer.org()


@pytest.mark.parametrize("header", [None, "", "Basic abc", "Bearer ", "Bearer"])
def test_authorization_header_must_be_bearer(header):
    with pytest.raises(Unauthenticated):
        token_from_header(header)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("MQTT_URL", "mqtt://ingest:hunter2-secret@broker:notaport"),
        ("MQTT_URL", "http://ingest:hunter2-secret@broker:1883"),
        ("REDIS_URL", "redis://:hunter2-secret@redis:notaport/0"),
        ("REDIS_URL", "http://user:hunter2-secret@redis:6379"),
        ("DATABASE_URL", "postgresql://app:hunter2-secret@db:notaport/koprogo"),
        ("DATABASE_URL", "mysql://app:hunter2-secret@db/koprogo"),
        ("SMTP_URL", "smtp://mail:hunter2-secret@smtp:notaport"),
        ("SMTP_URL", "http://mail:hunter2-secret@smtp:25"),
        ("DATABASE_URL", "mysql://app:hunter2/secret@db/koprogo"),  # a "/" in the password
        ("REDIS_URL", "http://r:6379/0?password=hunter2-secret"),
    ],
)
def test_a_malformed_url_is_named_without_its_password(name, value):
    with pytest.raises(ConfigError) as refused:
        Settings.from_env({**BASE, name: value})
    message = str(refused.value)
    assert name in message
    assert "hunter2" not in message


def test_zero_configuration_refuses_root_unless_told_it_may():
    from koprogo_graph.config import _check_embedded_postgres_may_run

    with pytest.raises(ConfigError) as refused:
        _check_embedded_postgres_may_run({}, euid=0)
    assert "KOPROGO_EMBEDDED_AS_ROOT=true" in str(refused.value)
    assert "DATABASE_URL" in str(refused.value)
    _check_embedded_postgres_may_run({"KOPROGO_EMBEDDED_AS_ROOT": "true"}, euid=0)
    _check_embedded_postgres_may_run({}, euid=1000)


def test_the_command_line_says_why_it_will_not_run_embedded_as_root(tmp_path):
    import os
    import subprocess
    import sys

    if os.geteuid() != 0:
        pytest.skip("only root is refused")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "KOPROGO_"))}
    env["KOPROGO_DATA_DIR"] = str(tmp_path)
    done = subprocess.run(
        [sys.executable, "-m", "koprogo_graph.cli", "serve"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "runs as root" in done.stderr
    assert not any(tmp_path.iterdir())  # nothing was created


def test_defaults_are_the_settings_declared_ones_and_the_demo_checks_leaks_sooner():
    settings = Settings.from_env(BASE)
    declared = Settings.__dataclass_fields__
    for name in ("offline_check_seconds", "leak_check_seconds", "reminder_seconds", "rate_limit"):
        assert getattr(settings, name) == declared[name].default
    assert Settings.from_env(BASE, demo=True).leak_check_seconds == 15.0
    explicit = {**BASE, "KOPROGO_LEAK_CHECK_SECONDS": "120"}
    assert Settings.from_env(explicit, demo=True).leak_check_seconds == 120.0


def test_the_log_level_is_checked():
    from koprogo_graph.config import log_level

    assert log_level({}) == "INFO"
    assert log_level({"KOPROGO_LOG_LEVEL": "DEBUG"}) == "DEBUG"
    with pytest.raises(ConfigError, match="KOPROGO_LOG_LEVEL"):
        log_level({"KOPROGO_LOG_LEVEL": "LOUD"})


@pytest.mark.parametrize(
    "origins", ["*", "https://app.koprogo.com/path", "ftp://x", "app.koprogo.com"]
)
def test_cors_origins_must_be_plain_origins(origins):
    env = {
        "DATABASE_URL": "postgresql://x@h/db",
        "KOPROGO_JWT_SECRET": "s" * 32,
        "KOPROGO_INGEST": "false",
    }
    with pytest.raises(ConfigError, match="KOPROGO_CORS_ORIGINS"):
        Settings.from_env({**env, "KOPROGO_CORS_ORIGINS": origins})
    ok = Settings.from_env(
        {**env, "KOPROGO_CORS_ORIGINS": "https://app.koprogo.com, http://localhost:5173/"}
    )
    assert ok.cors_origins == ("https://app.koprogo.com", "http://localhost:5173")
