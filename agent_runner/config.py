"""Every environment variable the runner reads, validated once into one immutable object.

`Config.load_from_env()` is called once at start-up and the result is passed
down; nothing else reads `os.environ` for configuration. All problems are
collected before raising `ConfigError`, so a user sees every bad variable at
once. Secrets are held as `Secret`, so neither `repr(config)` nor a log line
can show them.
"""

from __future__ import annotations

import base64
import binascii
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final, Literal, cast

from agent_runner.errors import ConfigError
from agent_runner.secrets import MASK, Secret
from agent_runner.temporal_connection import TemporalConnection, load_temporal_connection
from graphton.model_ids import retirement_notice

Mode = Literal["local", "cloud"]
SandboxType = Literal["filesystem", "daytona"]
Provider = Literal["anthropic", "openai", "ollama", "scripted"]

MODES: Final = ("local", "cloud")
DEPLOYMENT_ENVS: Final = ("development", "staging", "production")
SANDBOX_TYPES: Final = ("filesystem", "daytona")
MIB: Final = 1024 * 1024
PROVIDERS: Final = ("anthropic", "openai", "ollama", "scripted")
LOG_LEVELS: Final = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")

LOCAL_API_KEY: Final = "dummy-local-key"
LOCAL_BACKEND_ENDPOINT: Final = "localhost:50051"
DEFAULT_WEB_PORT: Final = 8234
"""Beside the Temporal web UI's 8233."""

# The provider's own key variable, used when STIGMER_LLM_API_KEY is not set.
PROVIDER_KEY_VARIABLES: Final[Mapping[str, str]] = {
    "anthropic": "ANTHROPIC_API_KEY",
    "openai": "OPENAI_API_KEY",
}
DEFAULT_MODELS: Final[Mapping[str, str]] = {
    "anthropic": "claude-sonnet-4-6",
    "openai": "gpt-4.1",
    "ollama": "llama3.1",
    # Empty: the scripted model plays the script of the built-in demo.
    "scripted": "",
}

LIVE_MODEL_HINT: Final = (
    "export ANTHROPIC_API_KEY=... (or OPENAI_API_KEY, or STIGMER_LLM_PROVIDER=ollama with "
    "STIGMER_LLM_MODEL), or pass --model provider:name"
)
"""How to choose a live model, said wherever one is needed and none is set."""

# Variables whose values are masked in every error message.
SECRET_VARIABLES: Final = frozenset(
    {
        "STIGMER_API_KEY",
        "DAYTONA_API_KEY",
        "REDIS_PASSWORD",
        "STIGMER_LLM_API_KEY",
        "ANTHROPIC_API_KEY",
        "OPENAI_API_KEY",
        "CHECKPOINT_DATABASE_URL",
        "TEMPORAL_API_KEY",
        "TEMPORAL_TLS_CLIENT_KEY_DATA",
        "TEMPORAL_PAYLOAD_KEY",
    }
)

WORKER_ONLY_VARIABLES: Final = SECRET_VARIABLES | frozenset(
    {
        # Credentials libraries of the worker read by themselves (the claim check's S3).
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "TEMPORAL_TLS_CLIENT_KEY_PATH",
        "TEMPORAL_PAYLOAD_KEY_FILE",
    }
)
"""The worker's own credentials: commands an agent runs on the worker's host never
inherit them (an agent's definition gives its commands what they should see)."""


@dataclass(frozen=True)
class TemporalConfig:
    address: str
    """Temporal frontend, `host:port`."""
    namespace: str
    task_queue: str
    """Queue this worker polls for activities."""
    max_concurrency: int
    """Activities run at once by one worker."""
    graceful_shutdown_s: int = 30
    """After SIGTERM, how long running executions may finish before they are cancelled."""
    connection: TemporalConnection | None = None
    """TLS, API key and profile (Temporal's client configuration); None: plaintext."""


@dataclass(frozen=True)
class BackendConfig:
    endpoint: str
    """Stigmer backend (the daemon in local mode), `host:port`."""
    api_key: Secret
    """Sent as `authorization: Bearer <key>` on every call."""
    tls: bool


@dataclass(frozen=True)
class SandboxConfig:
    type: SandboxType
    root_dir: Path
    """Absolute sandbox root of the filesystem sandbox."""
    spool_stream_bytes: int = 64 * 1024 * 1024
    """Most bytes of one output stream of one command kept on disk (`SANDBOX_SPOOL_STREAM_MIB`)."""
    spool_execution_bytes: int = 256 * 1024 * 1024
    """Most bytes of output kept on disk for one execution (`SANDBOX_SPOOL_EXECUTION_MIB`)."""
    host_mcp_servers: bool = False
    """`MCP_ALLOW_HOST_SERVERS`: run stdio and docker MCP servers on the worker's host even
    with Daytona sandboxes (with filesystem sandboxes everything runs on the host anyway)."""


@dataclass(frozen=True)
class DaytonaConfig:
    api_key: Secret | None
    api_url: str | None
    target: str | None
    snapshot_id: str | None
    """Snapshot new sandboxes start from (`DAYTONA_DEV_TOOLS_SNAPSHOT_ID`)."""
    work_dir: str | None = None
    """Where commands run and skills are written inside a sandbox; None: the sandbox's own
    working folder (the snapshot's WORKDIR, else its user's home)."""
    auto_stop_minutes: int = 15
    """Daytona stops a sandbox after this many minutes without requests (0: never)."""
    auto_archive_minutes: int = 7 * 24 * 60
    """Daytona archives a stopped sandbox after this many minutes (0: its own maximum)."""
    labels: Mapping[str, str] = field(default_factory=dict)
    """Put on every sandbox the runner creates, beside `stigmer.ai/session`."""


@dataclass(frozen=True)
class RedisConfig:
    host: str
    port: int
    password: Secret | None


@dataclass(frozen=True)
class ClaimCheckConfig:
    enabled: bool
    threshold_bytes: int
    """Payloads larger than this go to the store."""
    storage_type: Literal["filesystem", "s3"]
    path: Path
    """Folder of the filesystem store."""
    bucket: str | None
    prefix: str
    endpoint_url: str | None
    """An S3-compatible service other than AWS (MinIO, R2, ...)."""


@dataclass(frozen=True)
class LLMConfig:
    provider: Provider
    model: str
    """Provider's model name; for `scripted`, the path of a YAML script (empty: the demo)."""
    api_key: Secret | None
    base_url: str | None
    """Any OpenAI-compatible server when the provider is `openai`."""
    ollama_base_url: str | None
    max_tokens: int | None
    temperature: float | None
    max_retries: int = 6
    """Retries of a busy provider (429, 529, 5xx, resets) inside one execution."""
    retry_delay_s: float = 2.0
    """First wait between retries, doubled each time (a `retry-after` answer wins)."""

    @property
    def spec(self) -> str:
        """`provider:model`, the form `graphton.create_chat_model` takes."""
        return f"{self.provider}:{self.model}"


@dataclass(frozen=True)
class Config:
    mode: Mode
    env: str
    """Deployment label only (development | staging | production); changes no behaviour."""
    temporal: TemporalConfig
    backend: BackendConfig
    sandbox: SandboxConfig
    daytona: DaytonaConfig
    redis: RedisConfig | None
    """Only in cloud mode, only when REDIS_HOST is set."""
    llm: LLMConfig
    log_level: str
    log_format: str
    """text | json (one JSON object per line, for log pipelines)."""
    metrics_port: int
    """Port of /metrics and /healthz; 0 serves neither."""
    metrics_host: str
    """Interface of /metrics and /healthz: loopback unless METRICS_HOST says otherwise."""
    otlp_endpoint: str | None
    """OpenTelemetry collector (OTLP over HTTP) for traces; None traces nothing."""
    claim_check: ClaimCheckConfig
    checkpoint_database_url: Secret | None
    """PostgreSQL for conversation checkpoints in cloud mode (`CHECKPOINT_DATABASE_URL`)."""
    data_dir: Path
    """Where local state lives (daemon database, checkpoints)."""
    payload_key: Secret | None = None
    """AES key (base64) that encrypts every Temporal payload (`TEMPORAL_PAYLOAD_KEY`, or
    the file `TEMPORAL_PAYLOAD_KEY_FILE`); None sends payloads as they are."""
    web_port: int = DEFAULT_WEB_PORT
    """Port of the web view `agent-runner up` serves on 127.0.0.1; 0 serves none."""

    @classmethod
    def load_from_env(cls, environ: Mapping[str, str] | None = None) -> Config:
        """Read and validate every variable; raise `ConfigError` listing every problem."""
        return _load(_Reader(os.environ if environ is None else environ))

    def describe(self) -> dict[str, str]:
        """What a start-up banner shows: every setting that matters, never a secret."""
        return {
            "mode": self.mode,
            "env": self.env,
            "temporal": f"{self.temporal.address} (namespace {self.temporal.namespace})",
            **_describe_connection(self.temporal.connection),
            "task queue": self.temporal.task_queue,
            "max concurrency": str(self.temporal.max_concurrency),
            "backend": f"{self.backend.endpoint} ({'tls' if self.backend.tls else 'plaintext'})",
            "sandbox": (
                f"filesystem at {self.sandbox.root_dir}"
                if self.sandbox.type == "filesystem"
                else f"daytona ({self.daytona.api_url or 'default API URL'})"
            ),
            "model": self.llm.spec
            if self.llm.model
            else f"{self.llm.provider} (offline: each example agent's own script)",
        }

    def describe_groups(self) -> dict[str, dict[str, str]]:
        """Every setting, grouped as `agent-runner config` shows them; never a secret."""
        claim = self.claim_check
        store = (
            f"filesystem at {claim.path}"
            if claim.storage_type == "filesystem"
            else f"s3 bucket {claim.bucket or '(none)'} prefix {claim.prefix}"
            + (f" at {claim.endpoint_url}" if claim.endpoint_url else "")
        )
        redis = self.redis
        return {
            "runner": {
                key: value
                for key, value in self.describe().items()
                if key not in ("temporal", "task queue", "max concurrency")
            }
            | {"data": str(self.data_dir), "logs": f"{self.log_level}, {self.log_format}"},
            "temporal": {
                "address": self.temporal.address,
                "namespace": self.temporal.namespace,
                "task queue": self.temporal.task_queue,
                "max concurrency": str(self.temporal.max_concurrency),
            },
            "shutdown": {"graceful": f"{self.temporal.graceful_shutdown_s}s (SIGTERM, Ctrl-C)"},
            "metrics": {
                "server": f"/metrics and /healthz on {self.metrics_host}:{self.metrics_port}"
                if self.metrics_port
                else "off (METRICS_PORT=0)"
            },
            "tracing": {"otlp": self.otlp_endpoint or "off (OTEL_EXPORTER_OTLP_ENDPOINT unset)"},
            "checkpoints": {
                "store": f"sqlite at {self.data_dir / 'checkpoints.sqlite3'}"
                if self.mode == "local"
                else "postgresql (CHECKPOINT_DATABASE_URL, not shown)"
                if self.checkpoint_database_url is not None
                else "this worker's memory only"
            },
            "redis": {
                "status stream": "off in local mode"
                if self.mode == "local"
                else f"{redis.host}:{redis.port}"
                if redis is not None
                else "off (REDIS_HOST unset)"
            },
            "claim check": {
                "enabled": "yes" if claim.enabled else "no",
                "threshold": f"{claim.threshold_bytes} bytes",
                "store": store,
            },
        }

    def warnings(self) -> list[str]:
        """What the worker would warn about at start-up with this configuration."""
        found = []
        if self.mode == "cloud" and self.checkpoint_database_url is None:
            found.append(
                "conversation memory is kept in one worker's memory only: set "
                "CHECKPOINT_DATABASE_URL so that conversations survive the worker"
            )
        if self.mode == "cloud" and self.redis is None:
            found.append("no real-time status stream: REDIS_HOST is not set")
        retirement = retirement_notice(self.llm.provider, self.llm.model)
        if retirement is not None and not retirement[0]:
            found.append(f"STIGMER_LLM_MODEL: {retirement[1]}")
        if self.llm.provider == "scripted" and self.mode == "cloud":
            found.append("the model is scripted (offline): set STIGMER_LLM_PROVIDER for real work")
        if self.metrics_port and self.metrics_host not in ("127.0.0.1", "localhost", "::1"):
            found.append(
                f"/metrics is served on {self.metrics_host}: reachable from other machines"
            )
        return found


def _describe_connection(connection: TemporalConnection | None) -> dict[str, str]:
    if connection is None:
        return {}
    shown = {"temporal tls": connection.describe_tls(), "temporal auth": connection.describe_auth()}
    if connection.profile:
        shown["temporal profile"] = connection.profile
    return shown


class _Reader:
    """Reads typed values from an environment mapping, collecting every problem."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self.environ = environ
        self.problems: list[str] = []

    def raw(self, name: str) -> str | None:
        value = self.environ.get(name)
        if value is None or value.strip() == "":
            return None
        return value.strip()

    def problem(self, name: str, value: str | None, accepted: str) -> None:
        if value is None:
            self.problems.append(f"{name} is not set: {accepted}")
            return
        shown = MASK if name in SECRET_VARIABLES else value
        self.problems.append(f"{name}={shown!r} is not valid: expected {accepted}")

    def text(self, name: str, default: str) -> str:
        return self.raw(name) or default

    def optional(self, name: str) -> str | None:
        return self.raw(name)

    def secret(self, name: str) -> Secret | None:
        value = self.raw(name)
        return Secret(value) if value is not None else None

    def choice(self, name: str, accepted: tuple[str, ...], default: str) -> str:
        value = self.raw(name)
        if value is None:
            return default
        if value.lower() not in accepted:
            self.problem(name, value, "one of " + ", ".join(accepted))
            return default
        return value.lower()

    def integer(self, name: str, default: int | None, low: int, high: int) -> int | None:
        value = self.raw(name)
        if value is None:
            return default
        try:
            number = int(value)
        except ValueError:
            number = None
        if number is None or not low <= number <= high:
            self.problem(name, value, f"a whole number from {low} to {high}")
            return default
        return number

    def decimal(self, name: str, low: float, high: float) -> float | None:
        value = self.raw(name)
        if value is None:
            return None
        try:
            number = float(value)
        except ValueError:
            number = None
        if number is None or not low <= number <= high:
            self.problem(name, value, f"a number from {low} to {high}")
            return None
        return number

    def boolean(self, name: str, default: bool) -> bool:
        value = self.raw(name)
        if value is None:
            return default
        if value.lower() in ("true", "1", "yes", "on"):
            return True
        if value.lower() in ("false", "0", "no", "off"):
            return False
        self.problem(name, value, "true or false")
        return default

    def address(self, name: str, default: str) -> str:
        value = self.text(name, default)
        if _port_of(value) is None:
            self.problem(name, value, "host:port with a port from 1 to 65535")
        return value


def _port_of(address: str) -> int | None:
    host, sep, port = address.rpartition(":")
    if not sep or not host or not port.isdigit():
        return None
    number = int(port)
    return number if 1 <= number <= 65535 else None


def _load(read: _Reader) -> Config:
    mode: Mode = "local" if read.choice("MODE", MODES, "cloud") == "local" else "cloud"
    local = mode == "local"
    connection = load_temporal_connection(read.environ, read.problems)
    config = Config(
        mode=mode,
        env=read.choice("ENV", DEPLOYMENT_ENVS, "development" if local else "production"),
        temporal=TemporalConfig(
            address=_checked_address(read, connection.address),
            namespace=connection.namespace,
            task_queue=read.text(
                "TEMPORAL_AGENT_EXECUTION_RUNNER_TASK_QUEUE", "agent_execution_runner"
            ),
            max_concurrency=read.integer("TEMPORAL_MAX_CONCURRENCY", 10, 1, 1000) or 10,
            graceful_shutdown_s=read.integer("WORKER_GRACEFUL_SHUTDOWN_SECONDS", 30, 0, 3600) or 0,
            connection=connection,
        ),
        backend=_load_backend(read, local),
        sandbox=SandboxConfig(
            type="daytona"
            if read.choice("SANDBOX_TYPE", SANDBOX_TYPES, "filesystem" if local else "daytona")
            == "daytona"
            else "filesystem",
            root_dir=Path(read.text("SANDBOX_ROOT_DIR", "./workspace")).expanduser().resolve(),
            spool_stream_bytes=MIB * (read.integer("SANDBOX_SPOOL_STREAM_MIB", 64, 0, MIB) or 0),
            spool_execution_bytes=MIB
            * (read.integer("SANDBOX_SPOOL_EXECUTION_MIB", 256, 0, MIB) or 0),
            host_mcp_servers=read.boolean("MCP_ALLOW_HOST_SERVERS", False),
        ),
        daytona=DaytonaConfig(
            api_key=read.secret("DAYTONA_API_KEY"),
            api_url=read.optional("DAYTONA_API_URL"),
            target=read.optional("DAYTONA_TARGET"),
            snapshot_id=read.optional("DAYTONA_DEV_TOOLS_SNAPSHOT_ID"),
            work_dir=read.optional("DAYTONA_WORK_DIR"),
            auto_stop_minutes=_int(read.integer("DAYTONA_AUTO_STOP_MINUTES", 15, 0, 525_600)),
            auto_archive_minutes=_int(
                read.integer("DAYTONA_AUTO_ARCHIVE_MINUTES", 7 * 24 * 60, 0, 525_600)
            ),
            labels=_labels(read, "DAYTONA_SANDBOX_LABELS"),
        ),
        redis=None if local else _load_redis(read),
        llm=_load_llm(read, local),
        log_level=read.choice("LOG_LEVEL", tuple(x.lower() for x in LOG_LEVELS), "info").upper(),
        log_format=read.choice("LOG_FORMAT", ("text", "json"), "text"),
        metrics_port=read.integer("METRICS_PORT", 0 if local else 9464, 0, 65535) or 0,
        metrics_host=read.text("METRICS_HOST", "127.0.0.1"),
        otlp_endpoint=read.optional("OTEL_EXPORTER_OTLP_ENDPOINT"),
        claim_check=_load_claim_check(read, local),
        checkpoint_database_url=read.secret("CHECKPOINT_DATABASE_URL"),
        data_dir=Path(read.text("AGENT_RUNNER_DATA_DIR", "./.data")).expanduser().resolve(),
        payload_key=_load_payload_key(read),
        web_port=read.integer("AGENT_RUNNER_WEB_PORT", DEFAULT_WEB_PORT, 0, 65535) or 0,
    )
    if config.sandbox.type == "daytona" and config.daytona.api_key is None:
        read.problem("DAYTONA_API_KEY", None, "required when the sandbox is daytona (SANDBOX_TYPE)")
    if read.problems:
        raise ConfigError(read.problems)
    return config


def _int(value: int | None) -> int:
    assert value is not None  # integer() returns its default, which is given
    return value


def _labels(read: _Reader, name: str) -> dict[str, str]:
    """`key=value,key=value` into a mapping; a malformed pair is a problem."""
    labels: dict[str, str] = {}
    for pair in (read.raw(name) or "").split(","):
        if not pair.strip():
            continue
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            read.problem(name, pair, "comma-separated key=value pairs, e.g. team=ml,env=prod")
            continue
        labels[key.strip()] = value.strip()
    return labels


def _checked_address(read: _Reader, address: str) -> str:
    if _port_of(address) is None:
        name = "TEMPORAL_ADDRESS" if read.raw("TEMPORAL_ADDRESS") else "TEMPORAL_SERVICE_ADDRESS"
        read.problem(name, address, "host:port with a port from 1 to 65535")
    return address


def _load_backend(read: _Reader, local: bool) -> BackendConfig:
    endpoint = read.raw("STIGMER_BACKEND_ENDPOINT")
    if endpoint is None:
        if not local:
            read.problem("STIGMER_BACKEND_ENDPOINT", None, "required in MODE=cloud (host:port)")
        endpoint = LOCAL_BACKEND_ENDPOINT
    port = _port_of(endpoint)
    if port is None:
        read.problem("STIGMER_BACKEND_ENDPOINT", endpoint, "host:port with a port from 1 to 65535")
    api_key = read.secret("STIGMER_API_KEY")
    if api_key is None:
        if not local:
            read.problem("STIGMER_API_KEY", None, "required in MODE=cloud")
        api_key = Secret(LOCAL_API_KEY)
    return BackendConfig(
        endpoint=endpoint,
        api_key=api_key,
        tls=read.boolean("STIGMER_BACKEND_TLS", port == 443),
    )


def _load_claim_check(read: _Reader, local: bool) -> ClaimCheckConfig:
    data_dir = Path(read.text("AGENT_RUNNER_DATA_DIR", "./.data")).expanduser().resolve()
    storage_type = read.choice(
        "BLOB_STORAGE_TYPE", ("filesystem", "s3"), "filesystem" if local else "s3"
    )
    enabled = read.boolean("CLAIMCHECK_ENABLED", False)
    bucket = read.optional("BLOB_STORAGE_BUCKET")
    if enabled and storage_type == "s3" and bucket is None:
        read.problem(
            "BLOB_STORAGE_BUCKET",
            None,
            "required when BLOB_STORAGE_TYPE=s3 and CLAIMCHECK_ENABLED=true",
        )
    return ClaimCheckConfig(
        enabled=enabled,
        threshold_bytes=read.integer("CLAIMCHECK_THRESHOLD_BYTES", 256 * 1024, 1024, 2_000_000)
        or 0,
        storage_type="s3" if storage_type == "s3" else "filesystem",
        path=Path(read.text("BLOB_STORAGE_PATH", str(data_dir / "blobs"))).expanduser().resolve(),
        bucket=bucket,
        prefix=read.text("BLOB_STORAGE_PREFIX", "agent-runner/claim-check"),
        endpoint_url=read.optional("BLOB_STORAGE_ENDPOINT_URL"),
    )


def _load_payload_key(read: _Reader) -> Secret | None:
    """The payload encryption key, from the variable or its file; checked, never shown."""
    key = read.secret("TEMPORAL_PAYLOAD_KEY")
    key_file = read.optional("TEMPORAL_PAYLOAD_KEY_FILE")
    if key is not None and key_file is not None:
        read.problems.append(
            "TEMPORAL_PAYLOAD_KEY and TEMPORAL_PAYLOAD_KEY_FILE are both set: keep one"
        )
        return None
    if key_file is not None:
        try:
            key = Secret(Path(key_file).expanduser().read_text(encoding="utf-8").strip())
        except OSError as err:
            read.problems.append(
                f"TEMPORAL_PAYLOAD_KEY_FILE={key_file!r} cannot be read: {err.strerror}"
            )
            return None
    if key is None:
        return None
    try:
        raw = base64.b64decode(key.reveal(), validate=True)
    except binascii.Error:
        raw = b""
    if len(raw) not in (16, 24, 32):
        source = "TEMPORAL_PAYLOAD_KEY_FILE's content" if key_file else "TEMPORAL_PAYLOAD_KEY"
        read.problems.append(
            f"{source} is not valid: expected a base64 AES key of 32 bytes (or 16, 24); "
            "make one with: openssl rand -base64 32"
        )
        return None
    return key


def _load_redis(read: _Reader) -> RedisConfig | None:
    host = read.optional("REDIS_HOST")
    port = read.integer("REDIS_PORT", 6379, 1, 65535) or 6379
    password = read.secret("REDIS_PASSWORD")
    return RedisConfig(host=host, port=port, password=password) if host else None


def _load_llm(read: _Reader, local: bool) -> LLMConfig:
    explicit = read.raw("STIGMER_LLM_PROVIDER")
    if explicit is not None:
        provider: str = read.choice("STIGMER_LLM_PROVIDER", PROVIDERS, "scripted")
    elif read.raw("ANTHROPIC_API_KEY"):
        provider = "anthropic"
    elif read.raw("OPENAI_API_KEY"):
        provider = "openai"
    else:
        # Offline by default on a developer's machine; a real provider in production.
        provider = "scripted" if local else "anthropic"
    key_variable = PROVIDER_KEY_VARIABLES.get(provider)
    api_key = read.secret("STIGMER_LLM_API_KEY") or (
        read.secret(key_variable) if key_variable else None
    )
    base_url = read.optional("STIGMER_LLM_BASE_URL")
    needs_key = provider == "anthropic" or (provider == "openai" and base_url is None)
    if needs_key and api_key is None and not local:
        read.problem(
            "STIGMER_LLM_API_KEY",
            None,
            f"required for provider {provider} in MODE=cloud (or set {key_variable})",
        )
    model = read.text("STIGMER_LLM_MODEL", DEFAULT_MODELS[provider])
    retirement = retirement_notice(provider, model)
    if retirement is not None and retirement[0]:
        read.problem("STIGMER_LLM_MODEL", model, f"a model still served ({retirement[1]})")
    return LLMConfig(
        provider=cast(Provider, provider),  # choice() accepts only PROVIDERS
        model=model,
        api_key=api_key,
        base_url=base_url,
        ollama_base_url=read.optional("OLLAMA_BASE_URL"),
        max_tokens=read.integer("STIGMER_LLM_MAX_TOKENS", None, 1, 1_000_000),
        temperature=read.decimal("STIGMER_LLM_TEMPERATURE", 0.0, 2.0),
        max_retries=read.integer("STIGMER_LLM_MAX_RETRIES", 6, 0, 20) or 0,
        retry_delay_s=read.decimal("STIGMER_LLM_RETRY_DELAY_SECONDS", 0.01, 60.0) or 2.0,
    )
