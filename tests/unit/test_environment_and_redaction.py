"""Environment layering and secret masking."""

from __future__ import annotations

import logging

import pytest

from agent_runner import wire
from agent_runner.environment import merge_environment
from agent_runner.redaction import Redactor, SecretRegistry


def agent_with(**values: tuple[str, bool]) -> wire.agent.Agent:
    agent = wire.agent.Agent()
    for name, (value, secret) in values.items():
        agent.spec.env_spec.data[name].value = value
        agent.spec.env_spec.data[name].is_secret = secret
    return agent


def environment_with(**values: tuple[str, bool]) -> wire.environment.Environment:
    environment = wire.environment.Environment()
    for name, (value, secret) in values.items():
        environment.spec.data[name].value = value
        environment.spec.data[name].is_secret = secret
    return environment


def test_layers_override_in_order_agent_then_environments_then_runtime() -> None:
    runtime = {"C": wire.executioncontext.ExecutionValue(value="runtime")}
    merged = merge_environment(
        agent_with(A=("agent", False), B=("agent", False), C=("agent", False)),
        [
            environment_with(B=("env1", False), C=("env1", False)),
            environment_with(B=("env2", False)),
        ],
        runtime,
    )
    assert dict(merged.values) == {"A": "agent", "B": "env2", "C": "runtime"}


def test_a_name_secret_in_any_layer_stays_secret_with_every_value_masked() -> None:
    runtime = {"TOKEN": wire.executioncontext.ExecutionValue(value="new-token")}
    merged = merge_environment(agent_with(TOKEN=("old-token", True)), [], runtime)
    assert merged.values["TOKEN"] == "new-token"
    assert merged.secret_names == {"TOKEN"}
    assert merged.secret_values == {"old-token", "new-token"}


def test_redactor_masks_longest_first_and_ignores_empty() -> None:
    redact = Redactor(["abc", "abcdef", ""])
    assert redact("x abcdef y abc") == "x *** y ***"
    assert Redactor([])("abc") == "abc"


def test_log_filter_masks_registered_secrets_in_messages_and_tracebacks(
    caplog: pytest.LogCaptureFixture,
) -> None:
    registry = SecretRegistry()
    caplog.handler.addFilter(registry.log_filter())
    registry.register("exec-1", ["hunter2"])
    log = logging.getLogger("test.redaction")
    log.warning("password is %s", "hunter2")
    try:
        raise RuntimeError("failed with hunter2")
    except RuntimeError:
        log.exception("boom")
    registry.unregister("exec-1")
    log.warning("after: %s", "hunter2")
    assert "password is ***" in caplog.text
    assert "failed with ***" in caplog.text
    assert caplog.text.count("hunter2") == 1  # only the line logged after unregistering


def test_a_redactor_bounds_what_a_stream_masker_holds_back() -> None:
    """The sandbox's spool and live output mask through the execution's Redactor: at a
    chunk boundary it holds back only what could start a secret (never more than the
    longest secret's length), not graphton's cautious default."""
    from graphton.sandbox import StreamMasker

    redactor = Redactor(["s3cr3t-value", "short"])
    assert redactor.max_match_length == len("s3cr3t-value")
    masker = StreamMasker(redactor)
    first = masker.feed("x" * 100 + "s3cr3t")
    assert first == "x" * 100
    assert masker.pending == "s3cr3t"
    assert masker.feed(" plain text ") == "s3cr3t plain text "  # not a secret after all
    rest = masker.feed("s3cr3t-value and short") + masker.flush()
    assert rest == "*** and ***"
    assert Redactor().max_match_length == 0
