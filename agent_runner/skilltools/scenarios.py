"""`agent-runner skills test`: scenarios that prove a skill works, run like tests.

A scenario is a YAML file in `skills/<name>/tests/`:

```yaml
message: Measure the skills folder and save the table to stats.md
files:                        # optional: written into the sandbox before the run
  notes/todo.py: "x = 1  # TODO: remove"
model:                        # a script of the model's turns (see graphton.testing),
  turns: [...]                # or `live` for the configured provider
expect:
  files:                      # files the run must leave, optionally with text in them
    - {path: stats.md, contains: "| **total** |"}
  commands:                   # `execute` calls: one whose command contains the text
    - {contains: stats.py, exit_code: 0}
  final_answer: "stats\\.md"  # a regular expression the last answer must match
  tools_called: [read_file, execute]
  tools_not_called: [task]
```

Each scenario runs in a fresh temporary sandbox through the same steps as
ExecuteGraphton (the skill written by SkillWriter, the prompt's skills
section, the deep agent, the status builder), without Temporal. `--record`
runs it on a live model and writes the model's turns back into the file, so the
scenario replays offline in CI.
"""

from __future__ import annotations

import asyncio
import re
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from langchain_core.language_models import BaseChatModel

import graphton
from agent_runner.local.manifests import skill_from_folder
from agent_runner.redaction import Redactor
from agent_runner.skills import ResolvedSkill, SkillWriter, generate_prompt_section
from agent_runner.status import StatusBuilder

SCENARIO_INSTRUCTIONS = (
    "You are an assistant working in a sandbox folder. Use the skills listed below "
    "when they fit the task, and check results by running commands."
)


class ScenarioError(Exception):
    """A scenario file that cannot be run as written."""


@dataclass
class ScenarioResult:
    path: Path
    name: str
    failures: list[str] = field(default_factory=list)
    skipped: str | None = None

    @property
    def passed(self) -> bool:
        return not self.failures and self.skipped is None


@dataclass
class _Run:
    """What a scenario's run produced, for the expectations to look at."""

    root: Path
    events: list[graphton.AgentEvent]
    error: str | None = None

    def calls(self) -> list[tuple[str, Mapping[str, Any], int | None]]:
        exit_codes = {
            e.call_id: e.exit_code for e in self.events if isinstance(e, graphton.ToolFinished)
        }
        return [
            (e.name, e.args, exit_codes.get(e.call_id))
            for e in self.events
            if isinstance(e, graphton.ToolStarted)
        ]

    def final_answer(self) -> str:
        answers = [
            e.text
            for e in self.events
            if isinstance(e, graphton.AIMessageCompleted) and e.subagent is None
        ]
        return answers[-1] if answers else ""


def scenario_files(paths: list[Path]) -> list[Path]:
    """Scenario files named directly, or found in `tests/` of skill folders below the paths."""
    found: list[Path] = []
    for path in paths:
        if path.is_file():
            found.append(path)
        elif (path / "tests").is_dir():
            found += sorted((path / "tests").glob("*.yaml"))
        elif path.is_dir():
            found += sorted(path.glob("*/tests/*.yaml"))
    return found


def load_scenario(path: Path) -> dict[str, Any]:
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as err:
        raise ScenarioError(f"{path}: cannot be read as YAML: {err}") from err
    if not isinstance(document, dict) or not isinstance(document.get("message"), str):
        raise ScenarioError(f"{path}: a scenario needs a 'message' (what the user asks)")
    if "model" not in document:
        raise ScenarioError(f"{path}: a scenario needs a 'model': a script of turns, or 'live'")
    return document


def skill_folder_of(path: Path) -> Path:
    """`skills/<name>/tests/x.yaml` -> `skills/<name>`."""
    return path.resolve().parent.parent


async def run_scenario(path: Path, live_model: BaseChatModel | None = None) -> ScenarioResult:
    """Run one scenario and check its expectations."""
    try:
        scenario = load_scenario(path)
    except ScenarioError as err:
        return ScenarioResult(path, path.stem, failures=[str(err)])
    result = ScenarioResult(path, str(scenario.get("name") or path.stem))
    if scenario["model"] == "live":
        if live_model is None:
            result.skipped = "needs a live model (set ANTHROPIC_API_KEY or another provider)"
            return result
        model = live_model
    else:
        try:
            model = graphton.ScriptedChatModel(
                script=graphton.Script.from_data(scenario["model"], source=str(path))
            )
        except graphton.ScriptError as err:
            result.failures.append(str(err))
            return result
    with tempfile.TemporaryDirectory(prefix="skill-scenario-") as sandbox_dir:
        run = await _run(path, scenario, model, Path(sandbox_dir))
        result.failures = check_expectations(scenario.get("expect") or {}, run)
    return result


async def _run(path: Path, scenario: Mapping[str, Any], model: BaseChatModel, root: Path) -> _Run:
    for relative, content in (scenario.get("files") or {}).items():
        target = root / str(relative)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(str(content), encoding="utf-8")
    skill, artifact = skill_from_folder(skill_folder_of(path))
    resolved = [ResolvedSkill(skill=skill, artifact=artifact)]
    paths = await SkillWriter(root_dir=root, mode="filesystem").write_skills(resolved)
    instructions = str(scenario.get("instructions") or SCENARIO_INSTRUCTIONS)
    agent = graphton.create_deep_agent(
        model=model,
        system_prompt=f"{instructions}\n\n{generate_prompt_section(resolved, paths)}",
        sandbox=graphton.FilesystemBackend(root),
    )
    run = _Run(root=root, events=[])
    builder = StatusBuilder(redact=Redactor())
    builder.start(scenario["message"])
    try:
        async for event in graphton.stream_events(
            agent,
            {"messages": [{"role": "user", "content": scenario["message"]}]},
            {"configurable": {"thread_id": f"scenario-{path.stem}"}},
        ):
            run.events.append(event)
            builder.apply(event)
    except Exception as err:  # the run's failure is the scenario's failure, reported
        run.error = f"{type(err).__name__}: {err}"
    return run


def check_expectations(expect: Mapping[str, Any], run: _Run) -> list[str]:
    failures = [f"the run failed: {run.error}"] if run.error else []
    for entry in expect.get("files") or []:
        target = run.root / str(entry["path"])
        if not target.exists():
            failures.append(f"expected file {entry['path']} to exist; it does not")
        elif "contains" in entry and str(entry["contains"]) not in target.read_text(
            errors="replace"
        ):
            failures.append(f"expected {entry['path']} to contain {entry['contains']!r}")
    calls = run.calls()
    for entry in expect.get("commands") or []:
        wanted = str(entry.get("contains", ""))
        matching = [
            code
            for name, args, code in calls
            if name == "execute" and wanted in str(args.get("command", ""))
        ]
        if not matching:
            failures.append(f"expected a command containing {wanted!r}; none ran")
        elif "exit_code" in entry and entry["exit_code"] not in matching:
            failures.append(
                f"expected a command containing {wanted!r} to exit {entry['exit_code']}; "
                f"it exited {matching}"
            )
    pattern = expect.get("final_answer")
    if pattern is not None and not re.search(str(pattern), run.final_answer()):
        failures.append(
            f"expected the final answer to match {pattern!r}; it was {run.final_answer()!r}"
        )
    called = {name for name, _, _ in calls}
    for tool in expect.get("tools_called") or []:
        if tool not in called:
            failures.append(f"expected tool {tool!r} to be called; called: {sorted(called)}")
    for tool in expect.get("tools_not_called") or []:
        if tool in called:
            failures.append(f"expected tool {tool!r} not to be called; it was")
    return failures


async def record_scenario(path: Path, model: BaseChatModel) -> ScenarioResult:
    """Run on `model` (live) and write the turns it took back into the scenario file."""
    scenario = load_scenario(path)
    with tempfile.TemporaryDirectory(prefix="skill-scenario-") as sandbox_dir:
        run = await _run(path, scenario, model, Path(sandbox_dir))
        failures = check_expectations(scenario.get("expect") or {}, run)
    turns: list[dict[str, Any]] = []
    for event in run.events:
        if isinstance(event, graphton.AIMessageCompleted):
            turn: dict[str, Any] = {"text": event.text} if event.text else {}
            if event.tool_calls:
                turn["tool_calls"] = [
                    {"name": c["name"], "args": dict(c["args"]), "id": c["id"]}
                    for c in event.tool_calls
                ]
            turns.append(turn)
    scenario["model"] = {"turns": turns}
    recorded = yaml.safe_dump(scenario, sort_keys=False, allow_unicode=True)
    await asyncio.to_thread(path.write_text, recorded, encoding="utf-8")
    return ScenarioResult(path, str(scenario.get("name") or path.stem), failures=failures)
