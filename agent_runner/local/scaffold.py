"""`agent-runner validate` and `agent-runner new agent|skill NAME`.

`validate` checks what `up` would serve without starting anything: manifests
(every problem of every file), each agent's offline script, and the skills'
lint. `new` writes a starting point that runs offline at once and passes
`validate`; it never overwrites a file.
"""

from __future__ import annotations

import stat
from pathlib import Path

import graphton
from agent_runner.annotations import OFFLINE_SCRIPT_ANNOTATION
from agent_runner.errors import AgentRunnerError
from agent_runner.local.manifests import OFFLINE_FOLDER, SLUG, ManifestError, load_catalog
from agent_runner.skilltools.lint import lint


class ScaffoldError(AgentRunnerError):
    """`new` cannot write what it was asked for."""


def validate(resources_dir: Path, skills_dir: Path | None) -> int:
    problems: list[str] = []
    try:
        catalog = load_catalog(resources_dir, skills_dir)
    except ManifestError as err:
        problems += err.problems
        catalog = None
    if catalog is not None:
        for agent in catalog.agents.values():
            script = agent.metadata.annotations.get(OFFLINE_SCRIPT_ANNOTATION)
            if script:
                try:
                    graphton.Script.from_yaml(script)
                except graphton.ScriptError as err:
                    problems.append(f"{script}: {err}")
    if skills_dir is not None:
        problems += [str(problem) for problem in lint([skills_dir])]
    for problem in problems:
        print(problem)
    if problems:
        print(f"{len(problems)} problems")
        return 1
    assert catalog is not None
    offline = sorted(
        a.metadata.slug
        for a in catalog.agents.values()
        if a.metadata.annotations.get(OFFLINE_SCRIPT_ANNOTATION)
    )
    print(
        f"ok: {len(catalog.agents)} agents ({len(offline)} with an offline script), "
        f"{len(catalog.skills)} skills, {len(catalog.environments)} environments"
    )
    return 0


def _check_name(name: str) -> None:
    if not SLUG.match(name):
        raise ScaffoldError(f"{name!r}: a name is lowercase letters, digits and dashes")


def _write_new(path: Path, text: str, *, executable: bool = False) -> None:
    if path.exists():
        raise ScaffoldError(f"{path} already exists; nothing was written")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    if executable:
        path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    print(f"wrote {path}")


AGENT_MANIFEST = """\
kind: Agent
metadata:
  slug: {name}
spec:
  description: What {name} is for (shown to whoever picks an agent).
  instructions: |
    You are {name}. You work inside a sandbox folder: check facts by running
    commands, write what you produce to files, and keep answers short.
  # skillRefs:                  # skills of the skills folder this agent may use
  #   - slug: csv-profile
  # envSpec:
  #   data:
  #     GREETING: {{value: hello}}
"""

AGENT_SCRIPT = """\
# What the scripted model plays for `{name}` when no live model is set: one turn per
# model call (see graphton/testing.py). Edit it to show what the agent should do.
turns:
  - text: "Looking at the workspace first."
    tool_calls:
      - name: execute
        args: {{command: "ls -la"}}
  - expect:
      contains: "total"
    text: "Writing a note of what is here."
    tool_calls:
      - name: write_file
        args:
          file_path: /{name}-notes.md
          content: "# Notes by {name}\\n\\nThe workspace was listed; see the run's output.\\n"
  - text: "Done: {name}-notes.md is written (offline: a script played the model)."
"""


def new_agent(name: str, resources_dir: Path) -> int:
    _check_name(name)
    manifest = resources_dir / f"{name}.yaml"
    script = resources_dir / OFFLINE_FOLDER / f"{name}.yaml"
    for path in (manifest, script):
        if path.exists():
            raise ScaffoldError(f"{path} already exists; nothing was written")
    _write_new(manifest, AGENT_MANIFEST.format(name=name))
    _write_new(script, AGENT_SCRIPT.format(name=name))
    print(
        f"next: agent-runner validate --resources {resources_dir}\n"
        f'      agent-runner run "hello" --agent {name} --resources {resources_dir}'
    )
    return 0


SKILL_MD = """\
---
name: {name}
description: What {name} does and when to use it (the agent reads this to decide).
---

# {title}

```sh
python3 scripts/run.py [FOLDER]
```

Counts the files in FOLDER (default: the current folder) and prints
`N files in FOLDER`. Replace this with what your skill does, and say when
the agent should use it.
"""

SKILL_SCRIPT = """\
#!/usr/bin/env python3
\"\"\"{name}: count the files in a folder (replace with what the skill does).\"\"\"

import sys
from pathlib import Path

folder = Path(sys.argv[1] if len(sys.argv) > 1 else ".")
count = sum(1 for path in folder.rglob("*") if path.is_file())
print(f"{{count}} files in {{folder}}")
"""

SKILL_SCENARIO = """\
# A scenario: `agent-runner skills test skills/{name}` runs it offline; `--record`
# replays it on a live model and writes the model's turns back here.
name: counts the files of a folder
message: How many files are in the data folder?
files:
  data/a.txt: "a"
  data/b.txt: "b"
model:
  turns:
    - tool_calls:
        - name: read_file
          args: {{file_path: /.agent-runner/skills/{name}/SKILL.md}}
    - expect: {{contains: "scripts/run.py"}}
      tool_calls:
        - name: execute
          args: {{command: "python3 .agent-runner/skills/{name}/scripts/run.py data"}}
    - expect: {{contains: "2 files in data"}}
      text: There are 2 files in data.
expect:
  commands:
    - {{contains: run.py, exit_code: 0}}
  final_answer: "2 files"
"""


def new_skill(name: str, skills_dir: Path) -> int:
    _check_name(name)
    folder = skills_dir / name
    if folder.exists():
        raise ScaffoldError(f"{folder} already exists; nothing was written")
    title = name.replace("-", " ").capitalize()
    _write_new(folder / "SKILL.md", SKILL_MD.format(name=name, title=title))
    _write_new(folder / "scripts" / "run.py", SKILL_SCRIPT.format(name=name), executable=True)
    _write_new(folder / "tests" / "counts-files.yaml", SKILL_SCENARIO.format(name=name))
    print(f"next: agent-runner skills lint {folder} && agent-runner skills test {folder}")
    return 0


__all__ = ["ScaffoldError", "new_agent", "new_skill", "validate"]
