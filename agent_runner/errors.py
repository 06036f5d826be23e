"""The runner's own small error hierarchy: each message says what is wrong and what to do."""

from __future__ import annotations


class AgentRunnerError(Exception):
    """Base of every error the runner raises on purpose."""


class ConfigError(AgentRunnerError):
    """One or more environment variables are invalid.

    Every problem is collected before raising, so a user fixes them all at once.
    Each problem is one line naming the variable, its value (secrets masked) and
    what is accepted.
    """

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        super().__init__("; ".join(self.problems))
