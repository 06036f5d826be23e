"""`agent-runner skills lint`: what a skill author should fix before anyone runs the skill.

Checks each skill folder: SKILL.md and its front matter (`name` rules,
`description` present and short enough), files the instructions refer to,
executable scripts, and size limits. Prints `file:line: problem` lines.
"""

from __future__ import annotations

import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path

import yaml

from agent_runner.skills import (
    DESCRIPTION_LIMIT,
    MAX_ARTIFACT_BYTES,
    MAX_ARTIFACT_ENTRIES,
    SKILL_FILE,
)

NAME_RULE = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
NAME_LIMIT = 64
SKILL_MD_LINE_LIMIT = 500
# A path the instructions point at: `scripts/x.py`, `skills/<name>/scripts/x.py`, or a link target.
REFERENCE = re.compile(
    r"(?:\]\(|`|\s)((?:skills/[a-z0-9-]+/)?(?:scripts|references|assets|data)/[\w./-]+)"
)


@dataclass(frozen=True)
class Problem:
    path: Path
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.message}"


def skill_folders(paths: list[Path]) -> list[Path]:
    """The skill folders named, or found one level below a folder of skills."""
    folders: list[Path] = []
    for path in paths:
        if (path / SKILL_FILE).is_file() or path.name == SKILL_FILE:
            folders.append(path.parent if path.name == SKILL_FILE else path)
        elif path.is_dir():
            folders += sorted(child for child in path.iterdir() if (child / SKILL_FILE).is_file())
    return folders


def lint_skill(folder: Path) -> list[Problem]:
    skill_md = folder / SKILL_FILE
    if not skill_md.is_file():
        return [Problem(folder, 0, f"no {SKILL_FILE} in the skill folder")]
    text = skill_md.read_text(encoding="utf-8", errors="replace")
    problems = _front_matter(skill_md, text, folder.name)
    problems += _references(folder, skill_md, text)
    problems += _scripts(folder)
    problems += _sizes(folder, skill_md, text)
    return problems


def _front_matter(skill_md: Path, text: str, folder_name: str) -> list[Problem]:
    match = re.match(r"\A---\s*\n(.*?)\n---\s*(?:\n|\Z)", text, flags=re.S)
    if not match:
        return [Problem(skill_md, 1, "no YAML front matter (--- name: ... description: ... ---)")]
    try:
        front = yaml.safe_load(match.group(1))
    except yaml.YAMLError as err:
        return [Problem(skill_md, 2, f"front matter is not valid YAML: {err}")]
    if not isinstance(front, dict):
        return [Problem(skill_md, 2, "front matter must be a mapping of name and description")]
    problems = []
    name = front.get("name")
    name_line = _line_of(text, "name:")
    if not isinstance(name, str) or not name:
        problems.append(Problem(skill_md, name_line or 2, "front matter has no 'name'"))
    else:
        if not NAME_RULE.match(name) or len(name) > NAME_LIMIT:
            problems.append(
                Problem(
                    skill_md,
                    name_line,
                    f"name {name!r} must be lowercase letters, digits and single dashes, "
                    f"at most {NAME_LIMIT} characters",
                )
            )
        if name != folder_name:
            problems.append(
                Problem(
                    skill_md, name_line, f"name {name!r} differs from its folder {folder_name!r}"
                )
            )
    description = front.get("description")
    description_line = _line_of(text, "description:") or 2
    if not isinstance(description, str) or not description.strip():
        problems.append(Problem(skill_md, description_line, "front matter has no 'description'"))
    elif len(description) > DESCRIPTION_LIMIT:
        problems.append(
            Problem(
                skill_md,
                description_line,
                f"description is {len(description)} characters; at most {DESCRIPTION_LIMIT}",
            )
        )
    return problems


def _line_of(text: str, prefix: str) -> int:
    for number, line in enumerate(text.splitlines(), 1):
        if line.startswith(prefix):
            return number
    return 0


def _references(folder: Path, skill_md: Path, text: str) -> list[Problem]:
    problems = []
    for number, line in enumerate(text.splitlines(), 1):
        for match in REFERENCE.finditer(line):
            reference = match.group(1).rstrip(".,)")
            relative = re.sub(r"^skills/[a-z0-9-]+/", "", reference)
            if not (folder / relative).exists():
                problems.append(
                    Problem(skill_md, number, f"refers to {reference}, which does not exist")
                )
    return problems


def _scripts(folder: Path) -> list[Problem]:
    problems = []
    for path in sorted(folder.rglob("*")):
        if not path.is_file() or "tests" in path.relative_to(folder).parts:
            continue
        in_scripts = "scripts" in path.relative_to(folder).parts
        with path.open("rb") as handle:
            shebang = handle.read(2) == b"#!"
        if (in_scripts or shebang) and not path.stat().st_mode & stat.S_IXUSR:
            problems.append(Problem(path, 1, f"script is not executable (chmod +x {path.name})"))
        if in_scripts and not shebang and path.suffix in (".py", ".sh"):
            problems.append(Problem(path, 1, "script has no #! line saying what runs it"))
    return problems


def _sizes(folder: Path, skill_md: Path, text: str) -> list[Problem]:
    problems = []
    lines = text.count("\n") + 1
    if lines > SKILL_MD_LINE_LIMIT:
        problems.append(
            Problem(
                skill_md,
                SKILL_MD_LINE_LIMIT,
                f"{SKILL_FILE} has {lines} lines; keep it under {SKILL_MD_LINE_LIMIT} and move "
                "details to files it refers to",
            )
        )
    files = [p for p in folder.rglob("*") if p.is_file()]
    total = sum(os.path.getsize(p) for p in files)
    if len(files) > MAX_ARTIFACT_ENTRIES:
        problems.append(Problem(folder, 0, f"{len(files)} files; at most {MAX_ARTIFACT_ENTRIES}"))
    if total > MAX_ARTIFACT_BYTES:
        problems.append(Problem(folder, 0, f"{total} bytes; at most {MAX_ARTIFACT_BYTES}"))
    return problems


def lint(paths: list[Path]) -> list[Problem]:
    folders = skill_folders(paths)
    if not folders:
        return [Problem(path, 0, f"no skill ({SKILL_FILE}) found here") for path in paths]
    return [problem for folder in folders for problem in lint_skill(folder)]
