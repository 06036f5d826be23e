"""An execution's environment: the agent's defaults < environments in order < runtime values."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from agent_runner import wire


class _Value(Protocol):
    """`EnvironmentValue` and `ExecutionValue` alike."""

    @property
    def value(self) -> str: ...

    @property
    def is_secret(self) -> bool: ...


@dataclass(frozen=True)
class ExecutionEnvironment:
    values: Mapping[str, str] = field(default_factory=dict)
    """What the sandbox's commands see, name -> value."""
    secret_names: frozenset[str] = frozenset()
    """Names marked secret in any layer."""
    secret_values: frozenset[str] = frozenset()
    """Every value of a secret name in any layer, overridden ones included: masked everywhere."""


def merge_environment(
    agent: wire.agent.Agent,
    environments: Iterable[wire.environment.Environment],
    runtime_env: Mapping[str, wire.executioncontext.ExecutionValue],
) -> ExecutionEnvironment:
    """Layer the three sources, lowest first; a later layer's value wins.

    A name marked secret in any layer stays secret, and each of its values is
    masked, since an overridden secret may still be printed by something.
    """
    values: dict[str, str] = {}
    secret_names: set[str] = set()
    secret_values: set[str] = set()
    layers: list[Mapping[str, _Value]] = [agent.spec.env_spec.data]
    layers += [environment.spec.data for environment in environments]
    for layer in [*layers, runtime_env]:
        for name, entry in layer.items():
            values[name] = entry.value
            if entry.is_secret:
                secret_names.add(name)
                secret_values.add(entry.value)
    for name in secret_names:
        secret_values.add(values[name])
    return ExecutionEnvironment(
        values=values,
        secret_names=frozenset(secret_names),
        secret_values=frozenset(v for v in secret_values if v),
    )
