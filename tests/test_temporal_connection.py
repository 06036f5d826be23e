"""Temporal's standard client configuration, with the platform's names still honoured."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent_runner.config import Config
from agent_runner.errors import ConfigError
from tests.tls_proxy import Certificates

BASE = {"MODE": "local", "TEMPORAL_CONFIG_FILE": "/nonexistent/temporal.toml"}


def load(**env: str) -> Config:
    return Config.load_from_env({**BASE, **env})


def test_defaults_are_a_local_plaintext_server() -> None:
    config = load()
    assert (config.temporal.address, config.temporal.namespace) == ("localhost:7233", "default")
    assert config.describe()["temporal tls"] == "off (plaintext)"
    assert config.describe()["temporal auth"] == "none"


def test_the_platform_address_variable_works_and_the_standard_one_wins() -> None:
    assert load(TEMPORAL_SERVICE_ADDRESS="t.example:7233").temporal.address == "t.example:7233"
    both = load(TEMPORAL_SERVICE_ADDRESS="old:7233", TEMPORAL_ADDRESS="new:7233")
    assert both.temporal.address == "new:7233"


def test_an_api_key_means_tls_and_is_never_shown() -> None:
    config = load(TEMPORAL_ADDRESS="ns.acct.tmprl.cloud:7233", TEMPORAL_API_KEY="secret-key-1")
    connection = config.temporal.connection
    assert connection is not None
    assert connection.security_kwargs()["api_key"] == "secret-key-1"
    assert config.describe()["temporal tls"] == "on: server CA from the system"
    assert "secret-key-1" not in repr(config) + str(config.describe())


def test_a_profile_of_a_toml_file_is_used(tmp_path: Path) -> None:
    certificates = Certificates.make(tmp_path / "certs")
    toml = tmp_path / "temporal.toml"
    toml.write_text(
        f"""
[profile.prod]
address = "prod.example:7233"
namespace = "agents"
[profile.prod.tls]
server_ca_cert_path = "{certificates.ca}"
client_cert_path = "{certificates.client_cert}"
client_key_path = "{certificates.client_key}"
"""
    )
    config = load(TEMPORAL_CONFIG_FILE=str(toml), TEMPORAL_PROFILE="prod")
    assert (config.temporal.address, config.temporal.namespace) == ("prod.example:7233", "agents")
    shown = config.describe()
    assert shown["temporal profile"] == "prod"
    assert f"client certificate {certificates.client_cert}" in shown["temporal tls"]
    assert shown["temporal auth"] == "client certificate (mTLS)"


def test_a_missing_tls_file_stops_start_up_naming_it(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load(TEMPORAL_TLS_SERVER_CA_CERT_PATH=str(tmp_path / "nope.pem"))
    [problem] = caught.value.problems
    assert str(tmp_path / "nope.pem") in problem


def test_a_certificate_without_its_key_is_refused(tmp_path: Path) -> None:
    certificates = Certificates.make(tmp_path)
    with pytest.raises(ConfigError, match="go together"):
        load(TEMPORAL_TLS_CLIENT_CERT_PATH=str(certificates.client_cert))
