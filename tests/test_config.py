"""Config.load_from_env: every rule, with its message."""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest

from agent_runner.config import Config
from agent_runner.errors import ConfigError
from graphton import model_ids

CLOUD = {
    "MODE": "cloud",
    "STIGMER_BACKEND_ENDPOINT": "api.stigmer.ai:443",
    "STIGMER_API_KEY": "sk-backend-123",
    "DAYTONA_API_KEY": "dtn-secret-456",
    "ANTHROPIC_API_KEY": "sk-ant-789",
}


def problems_of(environ: dict[str, str]) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        Config.load_from_env(environ)
    return caught.value.problems


def test_local_mode_needs_no_redis_daytona_or_keys() -> None:
    config = Config.load_from_env({"MODE": "local"})
    assert config.mode == "local"
    assert config.redis is None
    assert config.sandbox.type == "filesystem"
    assert config.backend.endpoint == "localhost:50051"
    assert config.backend.api_key.reveal() == "dummy-local-key"
    assert config.backend.tls is False
    assert config.llm.provider == "scripted"


def test_defaults_without_any_variable_are_cloud() -> None:
    problems = problems_of({})
    assert any(p.startswith("STIGMER_API_KEY is not set") for p in problems)


def test_cloud_without_api_key_fails_naming_it() -> None:
    environ = {k: v for k, v in CLOUD.items() if k != "STIGMER_API_KEY"}
    assert problems_of(environ) == ["STIGMER_API_KEY is not set: required in MODE=cloud"]


def test_cloud_without_backend_endpoint_fails_naming_it() -> None:
    environ = {k: v for k, v in CLOUD.items() if k != "STIGMER_BACKEND_ENDPOINT"}
    [problem] = problems_of(environ)
    assert problem.startswith("STIGMER_BACKEND_ENDPOINT is not set")


def test_cloud_defaults() -> None:
    config = Config.load_from_env(CLOUD)
    assert config.sandbox.type == "daytona"
    assert config.env == "production"
    assert config.backend.tls is True  # port 443
    assert config.llm.provider == "anthropic"
    assert config.temporal.task_queue == "agent_execution_runner"
    assert config.temporal.address == "localhost:7233"
    assert config.temporal.namespace == "default"
    assert config.temporal.max_concurrency == 10


def test_max_concurrency_not_a_number_fails_naming_it() -> None:
    [problem] = problems_of({"MODE": "local", "TEMPORAL_MAX_CONCURRENCY": "abc"})
    assert problem == (
        "TEMPORAL_MAX_CONCURRENCY='abc' is not valid: expected a whole number from 1 to 1000"
    )


@pytest.mark.parametrize("value", ["0", "1001", "-3"])
def test_max_concurrency_out_of_range_fails(value: str) -> None:
    [problem] = problems_of({"MODE": "local", "TEMPORAL_MAX_CONCURRENCY": value})
    assert problem.startswith(f"TEMPORAL_MAX_CONCURRENCY={value!r}")


def test_max_concurrency_in_range_is_applied() -> None:
    config = Config.load_from_env({"MODE": "local", "TEMPORAL_MAX_CONCURRENCY": "1000"})
    assert config.temporal.max_concurrency == 1000


def test_every_problem_is_reported_at_once() -> None:
    problems = problems_of(
        {
            "MODE": "local",
            "TEMPORAL_MAX_CONCURRENCY": "many",
            "SANDBOX_TYPE": "docker",
            "STIGMER_LLM_TEMPERATURE": "hot",
            "LOG_LEVEL": "loud",
        }
    )
    assert [p.split("=")[0] for p in problems] == [
        "TEMPORAL_MAX_CONCURRENCY",
        "SANDBOX_TYPE",
        "STIGMER_LLM_TEMPERATURE",
        "LOG_LEVEL",
    ]


def test_unknown_mode_lists_accepted_values() -> None:
    problems = problems_of({"MODE": "hybrid"})
    assert problems[0] == "MODE='hybrid' is not valid: expected one of local, cloud"


def test_unknown_env_label_is_refused() -> None:
    [problem] = problems_of({"MODE": "local", "ENV": "prod"})
    assert "development, staging, production" in problem


def test_daytona_sandbox_needs_its_key_in_any_mode() -> None:
    [problem] = problems_of({"MODE": "local", "SANDBOX_TYPE": "daytona"})
    assert problem.startswith("DAYTONA_API_KEY is not set")


def test_backend_tls_defaults_by_port_and_can_be_forced() -> None:
    plain = Config.load_from_env({**CLOUD, "STIGMER_BACKEND_ENDPOINT": "backend:8080"})
    assert plain.backend.tls is False
    forced = Config.load_from_env(
        {**CLOUD, "STIGMER_BACKEND_ENDPOINT": "backend:8080", "STIGMER_BACKEND_TLS": "true"}
    )
    assert forced.backend.tls is True
    [problem] = problems_of({**CLOUD, "STIGMER_BACKEND_TLS": "maybe"})
    assert problem == "STIGMER_BACKEND_TLS='maybe' is not valid: expected true or false"


@pytest.mark.parametrize("address", ["localhost", "host:notaport", ":7233", "host:70000"])
def test_temporal_address_must_be_host_and_port(address: str) -> None:
    [problem] = problems_of({"MODE": "local", "TEMPORAL_SERVICE_ADDRESS": address})
    assert problem.startswith("TEMPORAL_SERVICE_ADDRESS=")


def test_sandbox_root_is_made_absolute(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    config = Config.load_from_env({"MODE": "local", "SANDBOX_ROOT_DIR": "ws"})
    assert config.sandbox.root_dir == tmp_path / "ws"


def test_redis_is_read_in_cloud_only() -> None:
    cloud = Config.load_from_env({**CLOUD, "REDIS_HOST": "redis", "REDIS_PASSWORD": "pw-1"})
    assert cloud.redis is not None
    assert (cloud.redis.host, cloud.redis.port) == ("redis", 6379)
    local = Config.load_from_env({"MODE": "local", "REDIS_HOST": "redis"})
    assert local.redis is None
    [problem] = problems_of({**CLOUD, "REDIS_HOST": "redis", "REDIS_PORT": "x"})
    assert problem.startswith("REDIS_PORT='x'")


def test_llm_key_falls_back_to_the_providers_own_variable() -> None:
    config = Config.load_from_env({"MODE": "local", "OPENAI_API_KEY": "sk-openai"})
    assert config.llm.provider == "openai"
    assert config.llm.api_key is not None and config.llm.api_key.reveal() == "sk-openai"
    explicit = Config.load_from_env(
        {"MODE": "local", "OPENAI_API_KEY": "sk-openai", "STIGMER_LLM_API_KEY": "sk-explicit"}
    )
    assert explicit.llm.api_key is not None and explicit.llm.api_key.reveal() == "sk-explicit"


def test_llm_settings_are_validated_and_applied() -> None:
    config = Config.load_from_env(
        {
            "MODE": "local",
            "STIGMER_LLM_PROVIDER": "ollama",
            "STIGMER_LLM_MODEL": "qwen3",
            "OLLAMA_BASE_URL": "http://127.0.0.1:11434",
            "STIGMER_LLM_MAX_TOKENS": "2048",
            "STIGMER_LLM_TEMPERATURE": "0.2",
        }
    )
    assert config.llm.spec == "ollama:qwen3"
    assert config.llm.max_tokens == 2048
    assert config.llm.temperature == 0.2
    assert config.llm.ollama_base_url == "http://127.0.0.1:11434"
    [problem] = problems_of({"MODE": "local", "STIGMER_LLM_PROVIDER": "gemini"})
    assert problem.endswith("one of anthropic, openai, ollama, scripted")
    [problem] = problems_of({"MODE": "local", "STIGMER_LLM_MAX_TOKENS": "0"})
    assert problem.startswith("STIGMER_LLM_MAX_TOKENS='0'")


def test_cloud_live_provider_needs_a_key() -> None:
    environ = {k: v for k, v in CLOUD.items() if k != "ANTHROPIC_API_KEY"}
    [problem] = problems_of(environ)
    assert problem.startswith("STIGMER_LLM_API_KEY is not set")
    assert "ANTHROPIC_API_KEY" in problem


def test_openai_compatible_server_needs_no_key() -> None:
    environ = {k: v for k, v in CLOUD.items() if k != "ANTHROPIC_API_KEY"}
    config = Config.load_from_env(
        {**environ, "STIGMER_LLM_PROVIDER": "openai", "STIGMER_LLM_BASE_URL": "http://vllm:8000/v1"}
    )
    assert config.llm.base_url == "http://vllm:8000/v1"


def test_no_secret_in_repr_describe_or_errors() -> None:
    config = Config.load_from_env({**CLOUD, "REDIS_HOST": "r", "REDIS_PASSWORD": "redis-pw-000"})
    shown = repr(config) + str(config.describe())
    for secret in ["sk-backend-123", "dtn-secret-456", "sk-ant-789", "redis-pw-000"]:
        assert secret not in shown
    problems = problems_of(
        {**CLOUD, "REDIS_HOST": "r", "REDIS_PASSWORD": "redis-pw-000", "MODE": "x"}
    )
    assert "redis-pw-000" not in "; ".join(problems)


def test_empty_values_count_as_unset() -> None:
    config = Config.load_from_env({"MODE": "local", "TEMPORAL_NAMESPACE": "  "})
    assert config.temporal.namespace == "default"


def test_config_is_immutable() -> None:
    config = Config.load_from_env({"MODE": "local"})
    with pytest.raises(AttributeError):
        config.mode = "cloud"  # type: ignore[misc]


@pytest.fixture
def on_2026_11_23(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(model_ids, "_today", lambda: datetime.date(2026, 11, 23))


def test_a_model_its_provider_retired_stops_the_worker_naming_the_replacement(
    on_2026_11_23: None,
) -> None:
    assert problems_of({**CLOUD, "STIGMER_LLM_MODEL": "claude-opus-4-1"}) == [
        "STIGMER_LLM_MODEL='claude-opus-4-1' is not valid: expected a model still served "
        "(anthropic retired the model 'claude-opus-4-1' on 2026-08-05: requests naming it "
        "fail; use 'claude-opus-4-8')"
    ]


def test_a_model_retiring_soon_starts_with_a_warning_and_the_default_without(
    on_2026_11_23: None,
) -> None:
    retiring = Config.load_from_env({**CLOUD, "STIGMER_LLM_MODEL": "claude-sonnet-4-5"})
    assert retiring.llm.model == "claude-sonnet-4-5"
    [warning] = [w for w in retiring.warnings() if w.startswith("STIGMER_LLM_MODEL")]
    assert "retires the model 'claude-sonnet-4-5' on 2026-11-30" in warning
    assert "'claude-sonnet-4-6'" in warning
    default = Config.load_from_env(CLOUD)
    assert default.llm.model == "claude-sonnet-4-6"
    assert not [w for w in default.warnings() if w.startswith("STIGMER_LLM_MODEL")]
