"""Settings, read once from the environment and validated at start-up.

A missing or invalid variable raises :class:`ConfigError` whose message is one line naming it;
the command line prints that line and exits. Secrets are wrapped in :class:`Secret` so they never
show up in logs, reprs or tracebacks.
"""

from __future__ import annotations

import os
import re
import socket
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

__all__ = [
    "LOG_LEVELS",
    "ConfigError",
    "MqttSettings",
    "Secret",
    "Settings",
    "log_level",
    "masked_url",
    "read_environment",
]

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}
_WEAK_SECRETS = {"secret", "changeme", "change-me", "dev", "development", "test"}
DEV_JWT_SECRET = "koprogo-development-secret-do-not-use-in-production"


class ConfigError(Exception):
    """A setting is missing or invalid; the message names the variable."""


class Secret:
    """A string that does not print itself."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def get(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('**********')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


@dataclass(frozen=True, slots=True)
class MqttSettings:
    """Where and how the ingestor connects to the broker (parsed from ``MQTT_URL``)."""

    host: str
    port: int
    tls: bool = False
    username: str | None = None
    password: Secret | None = None
    client_id: str = ""
    share_group: str | None = "koprogo-ingest"  # None: a plain subscription
    protocol: str = "5"  # "5", or "3.1.1" (cheaper to decode; flow control left to the broker)
    ca_file: str | None = None  # mqtts: the broker's (private) CA; else the system's
    cert_file: str | None = None  # mqtts: a client certificate, with its key
    key_file: str | None = None
    dynamic_security: bool = False  # manage devices' accounts in Mosquitto's dynsec plugin

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        client_id: str,
        share_group: str | None,
        protocol: str = "5",
        env: Mapping[str, str] | None = None,
    ) -> MqttSettings:
        """From MQTT_URL, and (``env``) the TLS files and the broker's account management."""
        parts = urlsplit(url)
        if parts.scheme not in ("mqtt", "mqtts") or not parts.hostname:
            raise ConfigError(
                f"MQTT_URL has value {masked_url(url)!r}: expected mqtt://host:port or mqtts://host:port"
            )
        tls = parts.scheme == "mqtts"
        try:
            port = parts.port or (8883 if tls else 1883)
        except ValueError:
            raise ConfigError(f"MQTT_URL has an invalid port in {masked_url(url)!r}") from None
        files = {
            name: _readable_file(env or {}, name)
            for name in ("MQTT_CA_FILE", "MQTT_CERT_FILE", "MQTT_KEY_FILE")
        }
        if (files["MQTT_CERT_FILE"] is None) != (files["MQTT_KEY_FILE"] is None):
            raise ConfigError("MQTT_CERT_FILE and MQTT_KEY_FILE go together: set both or neither")
        if not tls and any(files.values()):
            raise ConfigError("MQTT_CA_FILE, MQTT_CERT_FILE and MQTT_KEY_FILE need an mqtts:// URL")
        return cls(
            ca_file=files["MQTT_CA_FILE"],
            cert_file=files["MQTT_CERT_FILE"],
            key_file=files["MQTT_KEY_FILE"],
            dynamic_security=_bool(env or {}, "KOPROGO_MQTT_DYNSEC", False),
            host=parts.hostname,
            port=port,
            tls=tls,
            username=parts.username,
            password=Secret(parts.password) if parts.password else None,
            client_id=client_id,
            share_group=share_group,
            protocol=protocol,
        )


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything the service reads from its environment."""

    database_url: Secret | None  # None: an embedded PostgreSQL (zero-configuration mode)
    jwt_secret: Secret
    secret_key: Secret | None = None  # seals channel URLs; None: derived from jwt_secret
    redis_url: str | None = None
    mqtt: MqttSettings | None = None
    ingest: bool = True
    environment: str = "production"
    smtp_url: Secret | None = None
    mail_from: str = "koprogo-alerts@localhost"
    offline_check_seconds: float = 30.0
    leak_check_seconds: float = 600.0
    db_pool_size: int = 10
    max_page_size: int = 500
    rate_limit: float = 1.0
    rate_burst: float = 10.0
    reading_rate_limit: float = 10.0
    reading_rate_burst: float = 1_000.0
    webhook_allow_private: bool = False
    ws_max_per_address: int = 500
    ws_max_per_user: int = 20
    ws_init_timeout_seconds: float = 10.0
    introspection: bool = True  # for anonymous clients too (production: for viewers only)
    api_rate_limit: float = 20.0
    api_rate_burst: float = 100.0
    # Statements per user (GraphQL and exports together): each reads a building's period.
    statement_rate_limit: float = 0.5
    statement_rate_burst: float = 10.0
    # Web origins (scheme://host[:port]) whose pages may call the API from the browser (CORS):
    # KoproGo's frontend using the dashboard's widgets. None by default.
    cors_origins: tuple[str, ...] = ()
    reminder_seconds: float = 3600.0
    evaluation_grace_seconds: float = 60.0
    notify_retry_seconds: float = 5.0
    notify: bool = True
    embedded_broker_port: int | None = None  # set: an MQTT broker runs inside this process
    data_dir: str | None = None

    @property
    def channel_key(self) -> str:
        """What channel URLs are sealed with (notify/secretbox.py)."""
        return (self.secret_key or self.jwt_secret).get()

    @property
    def development(self) -> bool:
        return self.environment == "development"

    @property
    def embedded(self) -> list[str]:
        """The parts this process runs itself because their URL is not set."""
        parts = []
        if self.database_url is None:
            parts.append("PostgreSQL (pgserver)")
        if self.embedded_broker_port is not None:
            parts.append(f"MQTT broker on 127.0.0.1:{self.embedded_broker_port}")
        if self.redis_url is None:
            parts.append("in-memory broadcast")
        return parts

    @classmethod
    def from_env(cls, env: Mapping[str, str], *, demo: bool = False) -> Settings:
        """Build and validate settings; raise ConfigError naming the first bad variable.
        ``demo``: the demo's defaults (leaks checked every 15 s, so the leak shows at once)."""
        # Zero-configuration mode: without DATABASE_URL everything missing runs embedded, for a
        # developer's machine; it defaults to the development environment.
        zero_config = not env.get("DATABASE_URL", "").strip()
        environment = (
            env.get("KOPROGO_ENV", "development" if zero_config else "production").strip().lower()
        )
        if environment not in ("production", "development", "test"):
            raise ConfigError(
                f"KOPROGO_ENV has value {environment!r}: expected production, development or test"
            )
        database_url = _url(env, "DATABASE_URL", ("postgres", "postgresql"))
        if database_url is None:
            _check_embedded_postgres_may_run(env)
        mqtt_url = env.get("MQTT_URL", "").strip()
        ingest = _bool(env, "KOPROGO_INGEST", True)
        embedded_port = None
        if ingest and not mqtt_url:
            if not zero_config:
                raise ConfigError(
                    "MQTT_URL is not set (required unless KOPROGO_INGEST=false for an API-only replica)"
                )
            embedded_port = _free_port(
                int(_number(env, "KOPROGO_EMBEDDED_MQTT_PORT", 1883, 0, 65535))
            )
            mqtt_url = f"mqtt://127.0.0.1:{embedded_port}"
        client_id = env.get("KOPROGO_MQTT_CLIENT_ID") or f"koprogo-graph-{socket.gethostname()}"
        redis_url = _url(env, "REDIS_URL", ("redis", "rediss", "memory"))
        smtp_url = _url(env, "SMTP_URL", ("smtp", "smtps")) or ""
        return cls(
            database_url=Secret(database_url) if database_url else None,
            embedded_broker_port=embedded_port,
            data_dir=env.get("KOPROGO_DATA_DIR") or None,
            jwt_secret=Secret(_jwt_secret(env, environment)),
            secret_key=_secret_key(env),
            redis_url=redis_url,
            mqtt=MqttSettings.from_url(
                mqtt_url,
                client_id=client_id,
                share_group=None
                if embedded_port
                else env.get("KOPROGO_MQTT_GROUP", "koprogo-ingest"),
                # The embedded broker speaks MQTT 3.1.1 and has no shared subscriptions.
                protocol="3.1.1"
                if embedded_port
                else _choice(env, "KOPROGO_MQTT_PROTOCOL", ("5", "3.1.1"), "5"),
                env=env,
            )
            if mqtt_url
            else None,
            ingest=ingest,
            environment=environment,
            smtp_url=Secret(smtp_url) if smtp_url else None,
            mail_from=env.get("KOPROGO_MAIL_FROM") or _default("mail_from"),
            offline_check_seconds=_number(
                env, "KOPROGO_OFFLINE_CHECK_SECONDS", _default("offline_check_seconds"), 0.1, 3600
            ),
            leak_check_seconds=_number(
                env,
                "KOPROGO_LEAK_CHECK_SECONDS",
                15.0 if demo else _default("leak_check_seconds"),
                1,
                86_400,
            ),
            db_pool_size=int(
                _number(env, "KOPROGO_DB_POOL_SIZE", _default("db_pool_size"), 2, 200)
            ),
            max_page_size=int(
                _number(env, "KOPROGO_MAX_PAGE_SIZE", _default("max_page_size"), 1, 10_000)
            ),
            notify=_bool(env, "KOPROGO_NOTIFY", _default("notify")),
            webhook_allow_private=_bool(
                env, "KOPROGO_WEBHOOK_ALLOW_PRIVATE", _default("webhook_allow_private")
            ),
            introspection=_bool(env, "KOPROGO_INTROSPECTION", environment != "production"),
            ws_max_per_address=int(
                _number(
                    env, "KOPROGO_WS_MAX_PER_ADDRESS", _default("ws_max_per_address"), 1, 1_000_000
                )
            ),
            ws_max_per_user=int(
                _number(env, "KOPROGO_WS_MAX_PER_USER", _default("ws_max_per_user"), 1, 100_000)
            ),
            ws_init_timeout_seconds=_number(
                env,
                "KOPROGO_WS_INIT_TIMEOUT_SECONDS",
                _default("ws_init_timeout_seconds"),
                0.1,
                3600,
            ),
            notify_retry_seconds=_number(
                env, "KOPROGO_NOTIFY_RETRY_SECONDS", _default("notify_retry_seconds"), 0.01, 3600
            ),
            reminder_seconds=60
            * _number(
                env,
                "KOPROGO_REMINDER_MINUTES",
                _default("reminder_seconds") / 60,
                0.01,
                7 * 24 * 60,
            ),
            evaluation_grace_seconds=_number(
                env,
                "KOPROGO_EVALUATION_GRACE_SECONDS",
                _default("evaluation_grace_seconds"),
                0.1,
                86_400,
            ),
            rate_limit=_number(env, "KOPROGO_RATE_LIMIT", _default("rate_limit"), 0.001, 1_000_000),
            rate_burst=_number(env, "KOPROGO_RATE_BURST", _default("rate_burst"), 1, 1_000_000),
            reading_rate_limit=_number(
                env, "KOPROGO_READING_RATE_LIMIT", _default("reading_rate_limit"), 0.001, 1_000_000
            ),
            reading_rate_burst=_number(
                env, "KOPROGO_READING_RATE_BURST", _default("reading_rate_burst"), 1, 10_000_000
            ),
            api_rate_limit=_number(
                env, "KOPROGO_API_RATE_LIMIT", _default("api_rate_limit"), 0.01, 1_000_000
            ),
            api_rate_burst=_number(
                env, "KOPROGO_API_RATE_BURST", _default("api_rate_burst"), 1, 1_000_000
            ),
            statement_rate_limit=_number(
                env,
                "KOPROGO_STATEMENT_RATE_LIMIT",
                _default("statement_rate_limit"),
                0.001,
                1_000_000,
            ),
            statement_rate_burst=_number(
                env, "KOPROGO_STATEMENT_RATE_BURST", _default("statement_rate_burst"), 1, 1_000_000
            ),
            cors_origins=_origins(env, "KOPROGO_CORS_ORIGINS"),
        )


_ORIGIN = re.compile(r"https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?")


def _origins(env: Mapping[str, str], name: str) -> tuple[str, ...]:
    """Comma-separated web origins, each exactly scheme://host[:port] (no path, no wildcard)."""
    origins = tuple(o.strip().rstrip("/") for o in env.get(name, "").split(",") if o.strip())
    for origin in origins:
        if not _ORIGIN.fullmatch(origin):
            raise ConfigError(
                f"{name} has value {origin!r}: expected origins such as https://app.koprogo.com"
            )
    return origins


def _free_port(preferred: int) -> int:
    """``preferred`` if it is free on loopback, else any free port (for the embedded broker)."""
    for port in (preferred, 0):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return s.getsockname()[1]
    raise OSError("no free port")


def _readable_file(env: Mapping[str, str], name: str) -> str | None:
    path = env.get(name, "").strip()
    if not path:
        return None
    if not os.path.isfile(path) or not os.access(path, os.R_OK):
        raise ConfigError(f"{name} has value {path!r}: not a readable file")
    return path


def _default(name: str) -> Any:
    """A setting's default, as the Settings class declares it (written once, there)."""
    return Settings.__dataclass_fields__[name].default


def read_environment() -> dict[str, str]:
    """The process's environment: the one place the service reads it."""
    return dict(os.environ)


LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


def log_level(env: Mapping[str, str]) -> str:
    """KOPROGO_LOG_LEVEL (INFO by default); ConfigError if it is not a level."""
    return _choice(env, "KOPROGO_LOG_LEVEL", LOG_LEVELS, "INFO")


def _check_embedded_postgres_may_run(env: Mapping[str, str], euid: int | None = None) -> None:
    """The embedded PostgreSQL (pgserver) run as root creates the system user ``pgserver`` and
    opens every parent folder of its data and program directories to all users (up to ``/``):
    refuse unless the operator says they accept it."""
    if euid is None:
        euid = os.geteuid() if hasattr(os, "geteuid") else -1
    if euid == 0 and not _bool(env, "KOPROGO_EMBEDDED_AS_ROOT", False):
        raise ConfigError(
            "DATABASE_URL is not set and this runs as root: the embedded PostgreSQL would add a "
            "system user and make every parent folder of its data world-readable. Run as a "
            "regular user, set DATABASE_URL, or set KOPROGO_EMBEDDED_AS_ROOT=true to accept that"
        )


def _url(env: Mapping[str, str], name: str, schemes: tuple[str, ...]) -> str | None:
    """A URL setting, checked for its scheme and port; errors show it without its password."""
    url = env.get(name, "").strip() or None
    if url is None:
        return None
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises on a malformed port
    except ValueError:
        raise ConfigError(f"{name} has value {masked_url(url)!r}: not a valid URL") from None
    if parts.scheme not in schemes:
        expected = " or ".join(f"{s}://" for s in schemes)
        raise ConfigError(f"{name} has value {masked_url(url)!r}: expected {expected}")
    return url


def masked_url(url: str) -> str:
    """``url`` with what may be a secret replaced by ***: the password (whatever characters it
    holds, up to the last ``@``) and the query string. Start-up errors and logs name a URL,
    never its secret."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return "***"
    rest = rest.split("?", 1)[0].split("#", 1)[0]
    if "@" in rest:
        userinfo, _, host = rest.rpartition("@")
        user = userinfo.split(":", 1)[0]
        rest = f"{user}:***@{host}" if ":" in userinfo else f"***@{host}"
    return f"{scheme}://{rest}"


def _required(env: Mapping[str, str], name: str) -> str:
    value = env.get(name, "").strip()
    if not value:
        raise ConfigError(f"{name} is not set")
    return value


def _bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ConfigError(f"{name} has value {raw!r}: not a valid boolean (true/false)")


def _choice(env: Mapping[str, str], name: str, allowed: tuple[str, ...], default: str) -> str:
    value = env.get(name, "").strip() or default
    if value not in allowed:
        raise ConfigError(f"{name} has value {value!r}: expected one of {', '.join(allowed)}")
    return value


def _number(env: Mapping[str, str], name: str, default: float, low: float, high: float) -> float:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name} has value {raw!r}: not a number") from None
    if not low <= value <= high:
        raise ConfigError(f"{name} has value {raw!r}: must be between {low:g} and {high:g}")
    return value


def _secret_key(env: Mapping[str, str]) -> Secret | None:
    key = env.get("KOPROGO_SECRET_KEY", "")
    if not key:
        return None
    if len(key) < 32:
        raise ConfigError("KOPROGO_SECRET_KEY is too short (at least 32 characters)")
    return Secret(key)


def _jwt_secret(env: Mapping[str, str], environment: str) -> str:
    secret = env.get("KOPROGO_JWT_SECRET", "")
    if not secret:
        if environment == "development":
            return DEV_JWT_SECRET
        raise ConfigError("KOPROGO_JWT_SECRET is not set")
    if environment == "production" and (
        len(secret) < 32 or secret.lower() in _WEAK_SECRETS or secret == DEV_JWT_SECRET
    ):
        raise ConfigError(
            "KOPROGO_JWT_SECRET is too weak for production (at least 32 characters, as HS256 needs, and not a default)"
        )
    return secret
