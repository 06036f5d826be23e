"""The worker behind a real TLS-terminating gRPC proxy (nginx), as production sees
Temporal: mTLS with a private CA, or an API key; and each wrong setting stops
start-up with one line saying which."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from agent_runner import wire
from agent_runner.local.temporal_server import TemporalDevServer
from tests.integration.conftest import running_stack
from tests.tls_proxy import Certificates, TLSProxy

pytestmark = [pytest.mark.timeout(240)]

ax = wire.agentexecution
API_KEY = "tmprl-test-api-key-0123456789"


@dataclass(frozen=True)
class Proxies:
    certificates: Certificates
    mtls: TLSProxy
    keyed: TLSProxy


@pytest.fixture(scope="module")
def proxies(
    temporal_server: TemporalDevServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Proxies]:
    folder = tmp_path_factory.mktemp("tls")
    certificates = Certificates.make(folder / "certs")
    with (
        TLSProxy(
            folder / "mtls", temporal_server.address, certificates, require_client_cert=True
        ) as mtls,
        TLSProxy(folder / "keyed", temporal_server.address, certificates, api_key=API_KEY) as keyed,
    ):
        yield Proxies(certificates, mtls, keyed)


def mtls_env(proxies: Proxies) -> dict[str, str]:
    certs = proxies.certificates
    return {
        "TEMPORAL_ADDRESS": proxies.mtls.address,
        "TEMPORAL_TLS_SERVER_CA_CERT_PATH": str(certs.ca),
        "TEMPORAL_TLS_CLIENT_CERT_PATH": str(certs.client_cert),
        "TEMPORAL_TLS_CLIENT_KEY_PATH": str(certs.client_key),
        "TEMPORAL_TLS_SERVER_NAME": "localhost",
    }


def api_key_env(proxies: Proxies, key: str = API_KEY) -> dict[str, str]:
    return {
        "TEMPORAL_ADDRESS": proxies.keyed.address,
        "TEMPORAL_API_KEY": key,
        "TEMPORAL_TLS_SERVER_CA_CERT_PATH": str(proxies.certificates.ca),
    }


@pytest.mark.anyio
@pytest.mark.parametrize("how", ["mtls", "api key"])
async def test_the_worker_runs_an_execution_through_the_proxy(
    how: str, proxies: Proxies, temporal_server: TemporalDevServer, tmp_path: Path
) -> None:
    env = mtls_env(proxies) if how == "mtls" else api_key_env(proxies)
    # TEMPORAL_ADDRESS wins over the platform's name: nothing listens there.
    env["TEMPORAL_SERVICE_ADDRESS"] = "127.0.0.1:1"
    async with running_stack(temporal_server, tmp_path, env) as stack:
        execution = await stack.new_execution("Hello", [{"text": "Hello through TLS."}])
        result = await (await stack.start(execution)).result()
    assert result.phase == ax.EXECUTION_COMPLETED
    assert result.messages[-1].content == "Hello through TLS."


def worker_start(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """`agent-runner worker` in MODE=cloud until it exits (it should, at once)."""
    return subprocess.run(
        [sys.executable, "-m", "agent_runner", "worker"],
        env={
            **{k: v for k, v in os.environ.items() if not k.startswith("TEMPORAL_")},
            "MODE": "cloud",
            "STIGMER_BACKEND_ENDPOINT": "127.0.0.1:1",
            "STIGMER_API_KEY": "k",
            "SANDBOX_TYPE": "filesystem",
            "STIGMER_LLM_PROVIDER": "scripted",
            "METRICS_PORT": "0",
            **env,
        },
        capture_output=True,
        text=True,
        timeout=120,
    )


def one_line(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_a_wrong_ca_stops_start_up_saying_so(proxies: Proxies) -> None:
    env = {
        **mtls_env(proxies),
        "TEMPORAL_TLS_SERVER_CA_CERT_PATH": str(proxies.certificates.other_ca),
    }
    line = one_line(worker_start(env))
    assert "not signed by the CA" in line
    assert "TEMPORAL_TLS_SERVER_CA_CERT_PATH" in line


def test_a_missing_client_certificate_stops_start_up_saying_so(proxies: Proxies) -> None:
    env = mtls_env(proxies)
    del env["TEMPORAL_TLS_CLIENT_CERT_PATH"], env["TEMPORAL_TLS_CLIENT_KEY_PATH"]
    line = one_line(worker_start(env))
    assert "requires a client certificate" in line
    assert "TEMPORAL_TLS_CLIENT_CERT_PATH" in line


def test_a_client_key_of_another_certificate_stops_start_up_saying_so(proxies: Proxies) -> None:
    env = {
        **mtls_env(proxies),
        "TEMPORAL_TLS_CLIENT_KEY_PATH": str(proxies.certificates.server_key),
    }
    result = worker_start(env)
    assert result.returncode == 2, result.stderr  # a configuration error, found before connecting
    assert result.stderr.strip().splitlines() == [
        "agent-runner: configuration: "
        f"TEMPORAL_TLS_CLIENT_KEY_PATH={str(proxies.certificates.server_key)!r} is not the key "
        f"of the certificate in TEMPORAL_TLS_CLIENT_CERT_PATH="
        f"{str(proxies.certificates.client_cert)!r}"
    ]


def test_a_wrong_api_key_stops_start_up_without_showing_it(proxies: Proxies) -> None:
    result = worker_start(api_key_env(proxies, key="tmprl-wrong-key-abcdef"))
    line = one_line(result)
    assert "refused the credentials" in line
    assert "TEMPORAL_API_KEY" in line
    assert "tmprl-wrong-key-abcdef" not in result.stderr + result.stdout


def test_the_platform_address_variable_still_works_and_config_shows_tls(proxies: Proxies) -> None:
    env = mtls_env(proxies)
    env["TEMPORAL_SERVICE_ADDRESS"] = env.pop("TEMPORAL_ADDRESS")
    shown = subprocess.run(
        [sys.executable, "-m", "agent_runner", "config"],
        env={
            **{k: v for k, v in os.environ.items() if not k.startswith("TEMPORAL_")},
            "MODE": "cloud",
            "STIGMER_BACKEND_ENDPOINT": "127.0.0.1:1",
            "STIGMER_API_KEY": "k",
            "SANDBOX_TYPE": "filesystem",
            "STIGMER_LLM_PROVIDER": "scripted",
            "TEMPORAL_API_KEY": API_KEY,
            **env,
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert shown.returncode == 0, shown.stderr
    assert proxies.mtls.address in shown.stdout
    assert f"client certificate {proxies.certificates.client_cert}" in shown.stdout
    assert "server name localhost" in shown.stdout
    assert "API key (TEMPORAL_API_KEY, not shown)" in shown.stdout
    assert API_KEY not in shown.stdout + shown.stderr
