"""An execution's environment: the agent's defaults < environments in order < runtime values."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from agent_runner import wire

ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
"""Names a shell can export, and the only ones Daytona's daemon accepts."""


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
    refused_names: frozenset[str] = frozenset()
    """Names left out of `values`: not letters, digits and underscores (`my-key`)."""

    def warnings(self) -> list[str]:
        """What to tell the user about the environment, one line each."""
        return [
            f"environment variable {name!r} was left out: a name must be letters, digits and "
            "underscores, not starting with a digit; rename it (for example "
            f"{re.sub(r'[^A-Za-z0-9_]', '_', name)!r})"
            for name in sorted(self.refused_names)
        ]


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
    refused = frozenset(name for name in values if not ENV_NAME.match(name))
    return ExecutionEnvironment(
        values={name: value for name, value in values.items() if name not in refused},
        secret_names=frozenset(secret_names),
        secret_values=frozenset(v for v in secret_values if v),
        refused_names=refused,
    )
