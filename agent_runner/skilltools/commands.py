"""The `agent-runner skills lint|test` commands."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from langchain_core.language_models import BaseChatModel
from temporalio.exceptions import ApplicationError

from agent_runner.activities.build_agent import build_chat_model, model_spec
from agent_runner.config import PROVIDER_KEY_VARIABLES, Config
from agent_runner.errors import AgentRunnerError
from agent_runner.skilltools.lint import lint
from agent_runner.skilltools.scenarios import (
    ScenarioError,
    ScenarioResult,
    record_scenario,
    run_scenario,
    scenario_files,
)

# Plain print, not rich: these lines are read by editors and CI, never wrapped.


def lint_command(paths: list[Path]) -> int:
    problems = lint(paths)
    for problem in problems:
        print(problem)
    print(f"{len(problems)} problems" if problems else "no problems")
    return 1 if problems else 0


def _live_model(model: str | None) -> BaseChatModel | None:
    """The model for `live` scenarios: --model, or the configured provider unless scripted."""
    config = Config.load_from_env({**os.environ, "MODE": "local"})
    if model is None and config.llm.provider == "scripted":
        return None
    spec = model_spec(config.llm, model or "")
    provider = spec.partition(":")[0]
    variable = PROVIDER_KEY_VARIABLES.get(provider)
    has_key = (provider == config.llm.provider and config.llm.api_key is not None) or bool(
        variable and os.environ.get(variable)
    )
    needs_key = variable is not None and not (provider == "openai" and config.llm.base_url)
    if needs_key and not has_key:
        raise AgentRunnerError(f"model {spec}: {variable} is not set; export {variable}=...")
    try:
        return build_chat_model(config.llm, model or "")
    except ApplicationError as err:
        raise AgentRunnerError(f"model {spec}: {err.message}") from None


def test_command(paths: list[Path], *, record: bool, model: str | None) -> int:
    files = scenario_files(paths)
    if not files:
        raise AgentRunnerError(f"no scenarios found under {', '.join(map(str, paths))}")
    live = _live_model(model)
    if record and live is None:
        raise AgentRunnerError(
            "--record needs a live model: set ANTHROPIC_API_KEY (or another provider) or --model"
        )
    results: list[ScenarioResult] = []
    for path in files:
        if record:
            assert live is not None
            try:
                result = asyncio.run(record_scenario(path, live))
            except ScenarioError as err:
                result = ScenarioResult(path, path.stem, failures=[str(err)])
        else:
            result = asyncio.run(run_scenario(path, live))
        results.append(result)
        _report(result, recorded=record)
    passed = sum(r.passed for r in results)
    failed = sum(bool(r.failures) for r in results)
    skipped = sum(r.skipped is not None for r in results)
    summary = f"{passed} passed, {failed} failed" + (f", {skipped} skipped" if skipped else "")
    print(summary)
    return 1 if failed else 0


def _report(result: ScenarioResult, *, recorded: bool) -> None:
    label = f"{result.path}::{result.name}"
    if result.skipped:
        print(f"SKIPPED {label} ({result.skipped})")
    elif result.failures:
        print(f"FAILED {label}")
        for failure in result.failures:
            print(f"    {failure}")
    else:
        print(f"{'RECORDED' if recorded else 'PASSED'} {label}", flush=True)
