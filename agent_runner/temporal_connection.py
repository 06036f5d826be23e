"""Where and how to reach Temporal: Temporal's standard client configuration.

`temporalio.envconfig` reads `TEMPORAL_ADDRESS`, `TEMPORAL_NAMESPACE`,
`TEMPORAL_API_KEY`, `TEMPORAL_TLS*`, `TEMPORAL_GRPC_META_*` and profiles of a
TOML file (`TEMPORAL_CONFIG_FILE`, `TEMPORAL_PROFILE`), as every Temporal SDK
and the `temporal` CLI do. The platform's own name for the address,
`TEMPORAL_SERVICE_ADDRESS`, still works (`TEMPORAL_ADDRESS` wins when both are
set). TLS files are read once here, so a missing file stops start-up with the
variable's name; the API key and the client key are held as `Secret`s and
never shown.
"""

from __future__ import annotations

import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import temporalio.service
from temporalio.envconfig import ClientConfigProfile, ClientConfigTLS

from agent_runner.secrets import Secret

DEFAULT_ADDRESS: Final = "localhost:7233"
DEFAULT_NAMESPACE: Final = "default"
PLATFORM_ADDRESS_VARIABLE: Final = "TEMPORAL_SERVICE_ADDRESS"


@dataclass(frozen=True)
class TemporalTLS:
    """TLS towards Temporal: what the worker presents and what it trusts."""

    server_ca: str | None
    """Where the CA that signs the server's certificate comes from; None: the system's."""
    client_cert: str | None
    """Where the client certificate (mTLS) comes from."""
    server_name: str | None
    """Name checked against the server's certificate instead of the address's host."""
    config: temporalio.service.TLSConfig = field(repr=False)


@dataclass(frozen=True)
class TemporalConnection:
    address: str
    namespace: str
    tls: TemporalTLS | None
    """None: plaintext."""
    api_key: Secret | None
    profile: str | None
    """Profile of the TOML file in use, when one was."""
    grpc_metadata: Mapping[str, str] = field(default_factory=dict, repr=False)

    def security_kwargs(self) -> dict[str, Any]:
        """TLS, API key and metadata for `Client.connect` (secrets revealed, for it only);
        the address and namespace are `TemporalConfig`'s, which local tooling may change."""
        kwargs: dict[str, Any] = {"tls": self.tls.config if self.tls is not None else False}
        if self.api_key is not None:
            kwargs["api_key"] = self.api_key.reveal()
        if self.grpc_metadata:
            kwargs["rpc_metadata"] = dict(self.grpc_metadata)
        return kwargs

    def describe_tls(self) -> str:
        if self.tls is None:
            return "off (plaintext)"
        parts = [f"server CA {self.tls.server_ca or 'from the system'}"]
        if self.tls.client_cert:
            parts.append(f"client certificate {self.tls.client_cert}")
        if self.tls.server_name:
            parts.append(f"server name {self.tls.server_name}")
        return "on: " + ", ".join(parts)

    def describe_auth(self) -> str:
        ways = []
        if self.api_key is not None:
            ways.append("API key (TEMPORAL_API_KEY, not shown)")
        if self.tls is not None and self.tls.client_cert:
            ways.append("client certificate (mTLS)")
        return " and ".join(ways) or "none"


def _source(value: object, variable: str) -> str | None:
    if value is None:
        return None
    if isinstance(value, Path):
        return str(value)
    return f"{variable} (inline)"


def _tls(
    settings: ClientConfigTLS | None, api_key: bool, problems: list[str]
) -> TemporalTLS | None:
    if settings is None:
        # An API key implies TLS with the system's CAs (Temporal Cloud), as envconfig does.
        return TemporalTLS(None, None, None, temporalio.service.TLSConfig()) if api_key else None
    if settings.disabled:
        return None
    try:
        config = settings.to_connect_tls_config()
    except OSError as err:
        problems.append(
            f"a TLS file of the Temporal client configuration cannot be read: "
            f"{err.filename}: {err.strerror} (TEMPORAL_TLS_*_PATH or the profile's tls section)"
        )
        return None
    if not isinstance(config, temporalio.service.TLSConfig):
        return None
    if bool(config.client_cert) != bool(config.client_private_key):
        problems.append(
            "TEMPORAL_TLS_CLIENT_CERT_PATH and TEMPORAL_TLS_CLIENT_KEY_PATH go together: "
            "set both for mTLS, or neither"
        )
    elif isinstance(settings.client_cert, Path) and isinstance(settings.client_private_key, Path):
        _check_key_pair(settings.client_cert, settings.client_private_key, problems)
    return TemporalTLS(
        server_ca=_source(settings.server_root_ca_cert, "TEMPORAL_TLS_SERVER_CA_CERT_DATA"),
        client_cert=_source(settings.client_cert, "TEMPORAL_TLS_CLIENT_CERT_DATA"),
        server_name=settings.server_name,
        config=config,
    )


def _check_key_pair(cert: Path, key: Path, problems: list[str]) -> None:
    """A client key that does not belong to its certificate fails here, by name, rather than
    deep in the connection (where the SDK's error names neither file)."""
    try:
        ssl.create_default_context().load_cert_chain(cert, key)
    except ssl.SSLError as err:
        if "KEY_VALUES_MISMATCH" in str(err) or "key values mismatch" in str(err):
            problems.append(
                f"TEMPORAL_TLS_CLIENT_KEY_PATH={str(key)!r} is not the key of the certificate "
                f"in TEMPORAL_TLS_CLIENT_CERT_PATH={str(cert)!r}"
            )
        else:
            problems.append(
                f"TEMPORAL_TLS_CLIENT_CERT_PATH / TEMPORAL_TLS_CLIENT_KEY_PATH cannot be used "
                f"as a certificate and its key: {err.reason or err}"
            )


def load_temporal_connection(environ: Mapping[str, str], problems: list[str]) -> TemporalConnection:
    """The connection `environ` describes; each problem is appended to `problems`."""
    env = {name: value for name, value in environ.items() if value.strip()}
    if "TEMPORAL_ADDRESS" not in env and PLATFORM_ADDRESS_VARIABLE in env:
        env["TEMPORAL_ADDRESS"] = env[PLATFORM_ADDRESS_VARIABLE]
    try:
        profile = ClientConfigProfile.load(
            profile=env.get("TEMPORAL_PROFILE"), override_env_vars=env
        )
    except Exception as err:  # the bridge raises plain RuntimeErrors for bad files
        problems.append(f"the Temporal client configuration cannot be loaded: {err}")
        profile = ClientConfigProfile()
    api_key = Secret(profile.api_key) if profile.api_key else None
    return TemporalConnection(
        address=profile.address or DEFAULT_ADDRESS,
        namespace=profile.namespace or DEFAULT_NAMESPACE,
        tls=_tls(profile.tls, api_key is not None, problems),
        api_key=api_key,
        profile=env.get("TEMPORAL_PROFILE"),
        grpc_metadata=dict(profile.grpc_meta),
    )
