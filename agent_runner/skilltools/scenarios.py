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
import difflib
import io
import os
import re
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from langchain_core.language_models import BaseChatModel
from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError
from ruamel.yaml.util import load_yaml_guess_indent

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
    tools: frozenset[str] = frozenset()
    """The tools the agent has: a call to any other is a failure."""

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


SCENARIO_KEYS = frozenset({"name", "message", "files", "model", "instructions", "expect"})
EXPECT_KEYS = frozenset({"files", "commands", "final_answer", "tools_called", "tools_not_called"})
ENTRY_KEYS = {
    "files": frozenset({"path", "contains"}),
    "commands": frozenset({"contains", "exit_code"}),
}


def _yaml() -> YAML:
    """Round-trip YAML: keeps comments, order and quoting, and knows each key's line."""
    loader = YAML(typ="rt")
    loader.preserve_quotes = True
    loader.width = 4096
    return loader


def _key_line(mapping: Any, key: object) -> int:
    try:
        return int(mapping.lc.key(key)[0]) + 1
    except (AttributeError, KeyError, TypeError):
        return 1


def _unknown_keys(path: Path, mapping: Any, allowed: frozenset[str], where: str) -> list[str]:
    problems = []
    for key in mapping:
        if key not in allowed:
            close = difflib.get_close_matches(str(key), sorted(allowed), n=1)
            hint = (
                f"did you mean {close[0]!r}?" if close else f"known: {', '.join(sorted(allowed))}"
            )
            problems.append(f"{path}:{_key_line(mapping, key)}: {where}{key}: unknown key; {hint}")
    return problems


def load_scenario(path: Path) -> Any:
    """The scenario as round-trip YAML; `ScenarioError` lists every problem with its line."""
    try:
        document = _yaml().load(path.read_text(encoding="utf-8"))
    except (OSError, YAMLError) as err:
        raise ScenarioError(f"{path}: cannot be read as YAML: {err}") from err
    if not isinstance(document, dict):
        raise ScenarioError(f"{path}:1: a scenario is a mapping with message, model and expect")
    problems = _unknown_keys(path, document, SCENARIO_KEYS, "")
    if not isinstance(document.get("message"), str):
        problems.append(f"{path}:1: message: a scenario needs a 'message' (what the user asks)")
    if "model" not in document:
        problems.append(f"{path}:1: model: a scenario needs a script of turns, or 'live'")
    expect = document.get("expect")
    if not isinstance(expect, dict) or not expect:
        line = _key_line(document, "expect") if "expect" in document else 1
        problems.append(
            f"{path}:{line}: expect: a scenario needs expectations (files, commands, "
            "final_answer, tools_called, tools_not_called); without them nothing is checked"
        )
    else:
        problems += _unknown_keys(path, expect, EXPECT_KEYS, "expect.")
        for group, allowed in ENTRY_KEYS.items():
            entries = expect.get(group) or []
            if not isinstance(entries, list):
                problems.append(
                    f"{path}:{_key_line(expect, group)}: expect.{group}: expected a list"
                )
                continue
            for index, entry in enumerate(entries):
                if not isinstance(entry, dict):
                    problems.append(
                        f"{path}:{_key_line(expect, group)}: expect.{group}[{index}]: "
                        "expected a mapping"
                    )
                    continue
                problems += _unknown_keys(path, entry, allowed, f"expect.{group}[{index}].")
                if group == "files" and "path" not in entry:
                    problems.append(
                        f"{path}:{_key_line(expect, group)}: expect.files[{index}]: needs a 'path'"
                    )
    if problems:
        raise ScenarioError("\n".join(problems))
    return document


def _plain(value: Any) -> Any:
    """Round-trip YAML values as plain dicts, lists and strings (for the scripted model)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, str):
        return str(value)
    return value


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
                script=graphton.Script.from_data(_plain(scenario["model"]), source=str(path))
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
    run = _Run(root=root, events=[], tools=_tool_names(agent))
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


def _tool_names(agent: Any) -> frozenset[str]:
    node = getattr(agent, "nodes", {}).get("tools")
    return frozenset(getattr(getattr(node, "bound", None), "tools_by_name", {}) or ())


def check_expectations(expect: Mapping[str, Any], run: _Run) -> list[str]:
    failures = [f"the run failed: {run.error}"] if run.error else []
    if run.tools:
        for name in sorted({name for name, _, _ in run.calls()} - run.tools):
            failures.append(
                f"the model called tool {name!r}, which the agent does not have "
                f"(tools: {', '.join(sorted(run.tools))})"
            )
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
    """Run on `model` (live) and, only when the run passed, write the turns it took back into
    the scenario file, keeping the file's comments and formatting; a failed run writes nothing."""
    scenario = load_scenario(path)
    name = str(scenario.get("name") or path.stem)
    with tempfile.TemporaryDirectory(prefix="skill-scenario-") as sandbox_dir:
        run = await _run(path, scenario, model, Path(sandbox_dir))
        failures = check_expectations(scenario.get("expect") or {}, run)
    if failures:
        return ScenarioResult(
            path, name, failures=[*failures, f"not recorded: {path} is unchanged"]
        )
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
    model_node = scenario.get("model")
    if isinstance(model_node, dict):
        model_node["turns"] = turns
    else:
        scenario["model"] = {"turns": turns}
    buffer = io.StringIO()
    writer = _yaml()
    text = await asyncio.to_thread(path.read_text, encoding="utf-8")
    _, indent, sequence_offset = load_yaml_guess_indent(text)
    # The file's own indentation, guessed from it: a recording changes only the turns.
    writer.indent(mapping=2, sequence=indent or 2, offset=sequence_offset or 0)
    writer.dump(scenario, buffer)
    await asyncio.to_thread(_replace_file, path, buffer.getvalue())
    return ScenarioResult(path, name)


def _replace_file(path: Path, text: str) -> None:
    """Write through a temporary file and a rename: the scenario is never half written."""
    temporary = path.with_name(f".{path.name}.recording")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, path)
