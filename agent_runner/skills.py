"""Skills in a sandbox: `SkillWriter` writes them, `generate_prompt_section` lists them.

A skill is a folder `<root>/skills/<name>/` holding its `SKILL.md` (Agent Skills
format: YAML front matter with `name` and `description`, then Markdown) and
the files of its artifact ZIP. The agent's prompt lists each skill's name,
description and path; the agent reads the whole SKILL.md only when a task calls
for it (progressive disclosure), unless `inline` asks for the full text.
"""

from __future__ import annotations

import io
import re
import stat
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, Literal

import yaml

from agent_runner import wire
from agent_runner.errors import AgentRunnerError

SKILLS_FOLDER = "skills"
SKILL_FILE = "SKILL.md"
MAX_ARTIFACT_ENTRIES = 1000
MAX_ARTIFACT_BYTES = 50 * 1024 * 1024
"""Uncompressed bytes one skill's artifact may expand to."""
DESCRIPTION_LIMIT = 1024

Mode = Literal["filesystem", "daytona"]


class ArtifactError(AgentRunnerError):
    """A skill artifact is unsafe or malformed; nothing of it was written."""


@dataclass(frozen=True)
class SkillDocument:
    name: str
    description: str
    body: str
    """The Markdown after the front matter."""


@dataclass(frozen=True)
class ResolvedSkill:
    """One skill as ExecuteGraphton resolved it: the resource and its artifact."""

    skill: wire.skill.Skill
    artifact: bytes | None = None
    """The ZIP from getArtifact; None when the skill has none or it could not be fetched."""

    @property
    def id(self) -> str:
        return self.skill.metadata.id or self.skill.metadata.slug

    @property
    def document(self) -> SkillDocument:
        return parse_skill_md(
            self.skill.spec.skill_md,
            fallback_name=self.skill.metadata.slug or self.skill.metadata.name or self.id,
        )

    @property
    def folder_name(self) -> str:
        return sanitize_skill_name(self.document.name)


def parse_skill_md(text: str, fallback_name: str) -> SkillDocument:
    """Front matter `name` and `description`; without them, the resource's name and
    the body's first paragraph."""
    front: Mapping[str, Any] = {}
    body = text
    match = re.match(r"\A---\s*\n(.*?)\n---\s*(?:\n|\Z)", text, flags=re.S)
    if match:
        try:
            loaded = yaml.safe_load(match.group(1))
        except yaml.YAMLError:
            loaded = None
        if isinstance(loaded, Mapping):
            front, body = loaded, text[match.end() :]
    name = str(front.get("name") or fallback_name).strip()
    description = str(front.get("description") or _first_paragraph(body)).strip()
    return SkillDocument(name=name, description=description[:DESCRIPTION_LIMIT], body=body)


def _first_paragraph(body: str) -> str:
    for block in re.split(r"\n\s*\n", body):
        lines = [line.strip() for line in block.strip().splitlines()]
        text = " ".join(line for line in lines if line and not line.startswith("#"))
        if text:
            return text
    return ""


def sanitize_skill_name(name: str) -> str:
    """A single safe folder name: `../../etc` becomes `etc`, never a path."""
    cleaned = re.sub(r"[^a-z0-9._-]+", "-", name.lower()).strip("-.")
    cleaned = re.sub(r"\.{2,}", ".", cleaned)
    return cleaned or "skill"


class SkillWriter:
    """Writes skills into a sandbox, by the sandbox's own means.

    `mode="filesystem"` needs `root_dir` (the local sandbox root) and writes with
    the standard library. `mode="daytona"` needs `sandbox` (a
    `graphton.DaytonaBackend`) and uploads every file in one batch.
    """

    def __init__(
        self,
        sandbox: Any = None,
        root_dir: str | Path | None = None,
        mode: Mode = "daytona",
    ) -> None:
        if mode == "filesystem":
            if root_dir is None:
                raise ValueError("SkillWriter(mode='filesystem') needs root_dir")
        elif mode == "daytona":
            if sandbox is None:
                raise ValueError("SkillWriter(mode='daytona') needs sandbox")
        else:
            raise ValueError(f"SkillWriter mode {mode!r} is unknown; use 'filesystem' or 'daytona'")
        self.mode = mode
        self.sandbox = sandbox
        self.root_dir = Path(root_dir) if root_dir is not None else None
        # Where the agent's tools see the skills: the local sandbox's virtual root,
        # or the remote sandbox's working folder (its commands run there too).
        self._visible_root = (
            "" if mode == "filesystem" else str(getattr(sandbox, "root_dir", "")).rstrip("/")
        )

    async def write_skills(self, skills: Sequence[ResolvedSkill]) -> dict[str, str]:
        """Write every skill; returns skill id -> path of its SKILL.md as the agent sees it.

        Raises `RuntimeError` naming the skill when a write fails, and
        `ArtifactError` when an artifact is unsafe.
        """
        files: list[tuple[str, bytes, bool]] = []
        paths: dict[str, str] = {}
        used: set[str] = set()
        for skill in skills:
            folder = _unique(skill.folder_name, used)
            base = f"{SKILLS_FOLDER}/{folder}"
            if skill.artifact:
                try:
                    entries = safe_artifact_entries(skill.artifact)
                except ArtifactError as err:
                    raise ArtifactError(f"skill {skill.id!r}: {err}") from err
                files += [
                    (f"{base}/{name}", data, executable) for name, data, executable in entries
                ]
            files.append((f"{base}/{SKILL_FILE}", skill.skill.spec.skill_md.encode(), False))
            paths[skill.id] = f"{self._visible_root}/{base}/{SKILL_FILE}"
        if self.mode == "filesystem":
            self._write_files(files)
        else:
            await self._upload_files(files)
        return paths

    def _write_files(self, files: list[tuple[str, bytes, bool]]) -> None:
        assert self.root_dir is not None
        for relative, data, executable in files:
            target = self.root_dir / relative
            try:
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(data)
                if executable:
                    target.chmod(target.stat().st_mode | 0o111)
            except OSError as err:
                skill = PurePosixPath(relative).parts[1]
                raise RuntimeError(
                    f"writing skill {skill!r} into {self.root_dir} failed: {err}"
                ) from err

    async def _upload_files(self, files: list[tuple[str, bytes, bool]]) -> None:
        root = self._visible_root
        responses = await self.sandbox.aupload_files(
            [(f"{root}/{path}", data) for path, data, _ in files]
        )
        failed = [r for r in responses if r.error]
        if failed:
            skill = PurePosixPath(failed[0].path[len(root) :].lstrip("/")).parts[1]
            raise RuntimeError(f"uploading skill {skill!r} failed: {failed[0].error}")
        executables = [f"{root}/{path}" for path, _, executable in files if executable]
        if executables:
            await self.sandbox.make_executable(executables)


def _unique(name: str, used: set[str]) -> str:
    candidate, n = name, 1
    while candidate in used:
        n += 1
        candidate = f"{name}-{n}"
    used.add(candidate)
    return candidate


def safe_artifact_entries(artifact: bytes) -> list[tuple[str, bytes, bool]]:
    """The files of a skill ZIP as (relative path, bytes, executable), or `ArtifactError`.

    Refused: entries escaping the folder or with absolute paths, symbolic links,
    more than MAX_ARTIFACT_ENTRIES entries or MAX_ARTIFACT_BYTES uncompressed
    (checked from the sizes read, not only the headers, so a lying header is caught).
    """
    try:
        archive = zipfile.ZipFile(io.BytesIO(artifact))
    except zipfile.BadZipFile as err:
        raise ArtifactError(f"the artifact is not a ZIP file: {err}") from err
    with archive:
        infos = archive.infolist()
        if len(infos) > MAX_ARTIFACT_ENTRIES:
            raise ArtifactError(
                f"the artifact has {len(infos)} entries; at most {MAX_ARTIFACT_ENTRIES} are allowed"
            )
        entries: list[tuple[str, bytes, bool]] = []
        total = 0
        for info in infos:
            name = info.filename
            path = PurePosixPath(name)
            if name.startswith("/") or "\\" in name or re.match(r"^[A-Za-z]:", name):
                raise ArtifactError(f"entry {name!r} has an absolute path")
            if ".." in path.parts:
                raise ArtifactError(f"entry {name!r} would be written outside the skill folder")
            mode = info.external_attr >> 16
            if stat.S_ISLNK(mode):
                raise ArtifactError(f"entry {name!r} is a symbolic link; links are not allowed")
            if info.is_dir():
                continue
            if total + info.file_size > MAX_ARTIFACT_BYTES:
                raise ArtifactError(
                    f"the artifact expands past {MAX_ARTIFACT_BYTES} bytes (a ZIP bomb?)"
                )
            with archive.open(info) as member:
                data = member.read(MAX_ARTIFACT_BYTES - total + 1)
            total += len(data)
            if total > MAX_ARTIFACT_BYTES:
                raise ArtifactError(
                    f"the artifact expands past {MAX_ARTIFACT_BYTES} bytes (a ZIP bomb?)"
                )
            if path.as_posix() == SKILL_FILE:
                continue  # the resource's own SKILL.md is authoritative
            executable = bool(mode & 0o111) or data.startswith(b"#!")
            entries.append((path.as_posix(), data, executable))
        return entries


def generate_prompt_section(
    skills: Sequence[ResolvedSkill], paths: Mapping[str, str], *, inline: bool = False
) -> str:
    """The system prompt's list of skills: name, description and where the SKILL.md is."""
    if not skills:
        return ""
    lines = [
        "## Skills",
        "",
        "Skills are instructions (and scripts) for specific tasks, in the sandbox. "
        "When a task matches a skill's description, read its SKILL.md with read_file "
        "first and follow it; paths inside a skill are relative to the sandbox root.",
        "",
    ]
    for skill in skills:
        document = skill.document
        lines.append(f"- **{document.name}** ({paths[skill.id]}): {document.description}")
        if inline:
            lines += ["", document.body.strip(), ""]
    return "\n".join(lines) + "\n"
