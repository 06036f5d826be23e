"""An execution's status: built from agent events, pushed to the backend while it runs."""

from agent_runner.status.builder import STATUS_BUDGET_BYTES, StatusBuilder, fit_to_budget
from agent_runner.status.reporter import StatusReporter

__all__ = ["STATUS_BUDGET_BYTES", "StatusBuilder", "StatusReporter", "fit_to_budget"]
