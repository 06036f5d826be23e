"""Skills in a sandbox: `SkillWriter` writes them, `generate_prompt_section` lists them.

A skill is a folder `<root>/.agent-runner/skills/<name>/` holding its `SKILL.md`
(Agent Skills format: YAML front matter with `name` and `description`, then
Markdown) and the files of its artifact ZIP. The folder belongs to the runner:
a user's own `skills/` folder in the sandbox is never touched, and each skill's
folder is replaced whole, so it holds exactly the version being run. The
agent's prompt lists each skill's name, description and path; the agent reads
the whole SKILL.md only when a task calls for it (progressive disclosure),
unless `inline` asks for the full text.

Skill content is untrusted: front matter is parsed with a size limit and
without YAML aliases (an alias bomb is refused before it expands), a ZIP's
entry count and declared sizes are checked from its central directory before
anything is extracted, and files are written without following symbolic links
(a link planted in the skills folder by an earlier command is replaced, never
written through). Each folder is written aside and renamed into place, so
executions writing the same skills at once never see half of one.
"""

from __future__ import annotations

import contextlib
import errno
import io
import os
import re
import secrets
import shlex
import shutil
import stat
import struct
import zipfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, Literal

import yaml

from agent_runner import wire
from agent_runner.errors import AgentRunnerError

SKILLS_FOLDER = ".agent-runner/skills"
"""Where, under the sandbox root, the runner writes skills: its own folder, not the user's."""
SKILL_FILE = "SKILL.md"
MAX_ARTIFACT_ENTRIES = 1000
MAX_ARTIFACT_BYTES = 50 * 1024 * 1024
"""Uncompressed bytes one skill's artifact may expand to."""
DESCRIPTION_LIMIT = 1024
MAX_FRONT_MATTER_BYTES = 64 * 1024
"""Front matter is a name and a description: anything this large is refused unparsed."""

Mode = Literal["filesystem", "daytona"]


class ArtifactError(AgentRunnerError):
    """A skill artifact is unsafe or malformed; nothing of it was written."""


class SkillDocumentError(AgentRunnerError):
    """A SKILL.md is refused before parsing: too large a front matter, or YAML aliases."""


class _NoAliasLoader(yaml.SafeLoader):
    """PyYAML's safe loader, refusing aliases: `*x` is how a few hundred bytes expand to
    gigabytes (the "billion laughs"), and front matter never needs one."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()  # type: ignore[no-untyped-call]
            raise SkillDocumentError(
                f"SKILL.md front matter uses a YAML alias (*{event.anchor}, line "
                f"{event.start_mark.line + 1}); aliases are not allowed: write the value out"
            )
        return super().compose_node(parent, index)


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
        try:
            return parse_skill_md(
                self.skill.spec.skill_md,
                fallback_name=self.skill.metadata.slug or self.skill.metadata.name or self.id,
            )
        except SkillDocumentError as err:
            raise SkillDocumentError(f"skill {self.id!r}: {err}") from None

    @property
    def folder_name(self) -> str:
        return sanitize_skill_name(self.document.name)


def parse_skill_md(text: str, fallback_name: str) -> SkillDocument:
    """Front matter `name` and `description`; without them, the resource's name and
    the body's first paragraph."""
    front: Mapping[str, Any] = {}
    body = text
    match = _front_matter(text)
    if match:
        try:
            loaded = yaml.load(match.group(1), Loader=_NoAliasLoader)  # safe, no aliases
        except yaml.YAMLError:
            loaded = None
        if isinstance(loaded, Mapping):
            front, body = loaded, text[match.end() :]
    name = str(front.get("name") or fallback_name).strip()
    description = str(front.get("description") or _first_paragraph(body)).strip()
    return SkillDocument(name=name, description=description[:DESCRIPTION_LIMIT], body=body)


def _front_matter(text: str) -> re.Match[str] | None:
    """The front matter block, looked for within the size limit only."""
    if not text.startswith("---"):
        return None
    head = text[: MAX_FRONT_MATTER_BYTES + 8]
    match = re.match(r"\A---[ \t\r]*\n(.*?)\n---[ \t\r]*(?:\n|\Z)", head, flags=re.S)
    if match is None and re.search(r"\n---[ \t\r]*(?:\n|\Z)", text[len(head) - 8 :]):
        raise SkillDocumentError(
            f"SKILL.md front matter is larger than {MAX_FRONT_MATTER_BYTES} characters; "
            "keep it to the name and a description, and put the rest in the body"
        )
    return match


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

        Each skill's folder is replaced whole. Raises `RuntimeError` naming the skill
        when a write fails, and `ArtifactError` when an artifact is unsafe.
        """
        folders: list[_SkillFolder] = []
        paths: dict[str, str] = {}
        used: set[str] = set()
        for skill in skills:
            folder = _SkillFolder(skill.id, _unique(skill.folder_name, used))
            if skill.artifact:
                try:
                    folder.files += safe_artifact_entries(skill.artifact)
                except ArtifactError as err:
                    raise ArtifactError(f"skill {skill.id!r}: {err}") from err
            folder.files.append((SKILL_FILE, skill.skill.spec.skill_md.encode(), False))
            folders.append(folder)
            paths[skill.id] = f"{self._visible_root}/{SKILLS_FOLDER}/{folder.name}/{SKILL_FILE}"
        if not folders:
            return paths
        if self.mode == "filesystem":
            self._write_files(folders)
        else:
            await self._upload_files(folders)
        return paths

    def _write_files(self, folders: list[_SkillFolder]) -> None:
        """Write through folder descriptors, never following a link: a link (or file)
        planted where the runner's folders go is replaced, so nothing lands outside."""
        assert self.root_dir is not None
        current = folders[0]
        try:
            root = os.open(self.root_dir, os.O_RDONLY | os.O_DIRECTORY)
            try:
                skills_folder = _own_folder(root, SKILLS_FOLDER.split("/"))
                try:
                    for current in folders:
                        _write_skill_folder(skills_folder, current)
                finally:
                    os.close(skills_folder)
            finally:
                os.close(root)
        except OSError as err:
            raise RuntimeError(
                f"writing skill {current.name!r} into {self.root_dir} failed: {err}"
            ) from err

    async def _upload_files(self, folders: list[_SkillFolder]) -> None:
        root = self._visible_root
        await self._clear_remote_folders(folders)
        uploads = [
            (f"{root}/{SKILLS_FOLDER}/{folder.name}/{relative}", data, executable)
            for folder in folders
            for relative, data, executable in folder.files
        ]
        responses = await self.sandbox.aupload_files([(path, data) for path, data, _ in uploads])
        failed = [r for r in responses if r.error]
        if failed:
            skill = PurePosixPath(failed[0].path[len(f"{root}/{SKILLS_FOLDER}/") :]).parts[0]
            raise RuntimeError(f"uploading skill {skill!r} failed: {failed[0].error}")
        executables = [path for path, _, executable in uploads if executable]
        if executables:
            await self.sandbox.make_executable(executables)

    async def _clear_remote_folders(self, folders: list[_SkillFolder]) -> None:
        """In the remote sandbox: remove links or files planted where the runner's folders
        go, and each skill's old folder (a link there is removed, not followed)."""
        own = [".agent-runner", SKILLS_FOLDER]
        checks = " ".join(
            f"if [ -L {p} ] || {{ [ -e {p} ] && [ ! -d {p} ]; }}; then rm -f -- {p}; fi;"
            for p in map(shlex.quote, own)
        )
        old = " ".join(shlex.quote(f"{SKILLS_FOLDER}/{folder.name}") for folder in folders)
        command = f"cd {shlex.quote(self._visible_root or '.')} && {checks} rm -rf -- {old}"
        result = await self.sandbox.aexecute(command)
        if result.exit_code != 0:
            raise RuntimeError(
                f"preparing the skills folder in the sandbox failed: {result.output.strip()}"
            )


@dataclass
class _SkillFolder:
    skill_id: str
    name: str
    """Folder name under SKILLS_FOLDER."""
    files: list[tuple[str, bytes, bool]] = field(default_factory=list)
    """(path inside the folder, bytes, executable)."""


_FOLDER_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW
_SWAP_ATTEMPTS = 20


def _own_folder(parent: int, parts: Sequence[str]) -> int:
    """A descriptor of `parent/parts...`, each created when missing; a link or file in
    the way is removed (these folders belong to the runner). The caller closes it."""
    current = os.dup(parent)
    for part in parts:
        try:
            child = _open_or_make_folder(current, part)
        finally:
            os.close(current)
        current = child
    return current


def _open_or_make_folder(parent: int, name: str) -> int:
    try:
        return os.open(name, _FOLDER_FLAGS, dir_fd=parent)
    except FileNotFoundError:
        pass
    except OSError as err:
        if err.errno not in (errno.ELOOP, errno.ENOTDIR):
            raise
        os.unlink(name, dir_fd=parent)  # a planted link (ELOOP) or a file (ENOTDIR)
    # Another execution writing skills at the same moment may create it first.
    with contextlib.suppress(FileExistsError):
        os.mkdir(name, 0o755, dir_fd=parent)
    return os.open(name, _FOLDER_FLAGS, dir_fd=parent)


def _write_skill_folder(skills_folder: int, folder: _SkillFolder) -> None:
    """Fill a private folder, then swap it in by renaming.

    Executions of one workspace run at once and write the same skills: removing
    the folder and writing into it in place let one writer's removal meet
    another's files (ENOTEMPTY, or a folder mixing two writes). A rename is
    atomic, so each writer puts a whole folder in place and the last one wins.
    """
    staging = f".writing-{folder.name}-{secrets.token_hex(6)}"
    os.mkdir(staging, 0o755, dir_fd=skills_folder)
    try:
        staged = os.open(staging, _FOLDER_FLAGS, dir_fd=skills_folder)
        try:
            for relative, data, executable in folder.files:
                _write_file(staged, relative, data, executable)
        finally:
            os.close(staged)
        _swap_in(skills_folder, staging, folder.name)
    except BaseException:
        _remove_quietly(skills_folder, staging)
        raise


def _swap_in(parent: int, staging: str, name: str) -> None:
    """Rename `staging` to `name`, moving aside whatever holds that name first."""
    for _ in range(_SWAP_ATTEMPTS):
        try:
            os.rename(staging, name, src_dir_fd=parent, dst_dir_fd=parent)
            return
        except OSError as err:
            if err.errno not in (errno.ENOTEMPTY, errno.EEXIST, errno.ENOTDIR, errno.EISDIR):
                raise
        # A folder (another writer's, or an older version), a file or a link holds
        # the name: move it aside, then remove it; a concurrent writer may have
        # moved it already, which is as good.
        aside = f".replaced-{name}-{secrets.token_hex(6)}"
        try:
            os.rename(name, aside, src_dir_fd=parent, dst_dir_fd=parent)
        except FileNotFoundError:
            continue
        _remove_quietly(parent, aside)
    raise OSError(errno.EBUSY, f"other writers kept replacing {name!r}; try again")


def _remove_quietly(parent: int, name: str) -> None:
    """Remove a folder of the runner's own making; already gone is fine."""
    with contextlib.suppress(FileNotFoundError):
        _replace(parent, name)


def _replace(parent: int, name: str) -> None:
    """Remove `parent/name`, whatever it is, without following links."""
    try:
        info = os.stat(name, dir_fd=parent, follow_symlinks=False)
    except FileNotFoundError:
        return
    if stat.S_ISDIR(info.st_mode):
        shutil.rmtree(name, dir_fd=parent)  # fd-based on Linux: safe against links
    else:
        os.unlink(name, dir_fd=parent)


def _write_file(folder: int, relative: str, data: bytes, executable: bool) -> None:
    *parents, name = PurePosixPath(relative).parts
    parent = _own_folder(folder, parents)
    try:
        _replace(parent, name)
        mode = 0o755 if executable else 0o644
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
        with os.fdopen(os.open(name, flags, mode, dir_fd=parent), "wb") as file:
            file.write(data)
    finally:
        os.close(parent)


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
    check_central_directory(artifact)
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
        if sum(info.file_size for info in infos) > MAX_ARTIFACT_BYTES:
            raise ArtifactError(
                f"the artifact declares more than {MAX_ARTIFACT_BYTES} bytes (a ZIP bomb?)"
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


_END_OF_DIRECTORY = struct.Struct("<4sHHHHIIH")
_ZIP64_LOCATOR = struct.Struct("<4sIQI")
_ZIP64_END = struct.Struct("<4sQHHIIQQQQ")
_DIRECTORY_ENTRY = struct.Struct("<4sHHHHHHIIIHHHHHII")


def check_central_directory(artifact: bytes) -> None:
    """Count a ZIP's entries and add up their declared sizes from its central directory,
    before `zipfile` builds an object per entry (a million entries cost it ~500 MB).

    Walks the directory's fixed-size headers only, and stops at the first entry past
    the limits; a directory that does not parse is refused too.
    """
    end = artifact.rfind(b"PK\x05\x06", max(0, len(artifact) - 65557))
    if end < 0 or end + _END_OF_DIRECTORY.size > len(artifact):
        raise ArtifactError("the artifact is not a ZIP file: no end of central directory")
    _, _, _, _, count, size, offset, _ = _END_OF_DIRECTORY.unpack_from(artifact, end)
    locator = end - _ZIP64_LOCATOR.size
    if locator >= 0 and artifact[locator : locator + 4] == b"PK\x06\x07":
        end64 = _ZIP64_LOCATOR.unpack_from(artifact, locator)[2]
        if end64 + _ZIP64_END.size > len(artifact) or artifact[end64 : end64 + 4] != b"PK\x06\x06":
            raise ArtifactError("the artifact is not a ZIP file: a broken ZIP64 directory")
        _, _, _, _, _, _, _, count, size, offset = _ZIP64_END.unpack_from(artifact, end64)
    if count > MAX_ARTIFACT_ENTRIES:
        raise ArtifactError(
            f"the artifact has {count} entries; at most {MAX_ARTIFACT_ENTRIES} are allowed"
        )
    for entries, declared in _walk_directory(artifact, offset, size):
        if entries > MAX_ARTIFACT_ENTRIES:
            raise ArtifactError(
                f"the artifact has more than {MAX_ARTIFACT_ENTRIES} entries; "
                f"at most {MAX_ARTIFACT_ENTRIES} are allowed"
            )
        if declared > MAX_ARTIFACT_BYTES:
            raise ArtifactError(
                f"the artifact declares more than {MAX_ARTIFACT_BYTES} bytes (a ZIP bomb?)"
            )


def _walk_directory(artifact: bytes, offset: int, size: int) -> Iterator[tuple[int, int]]:
    """(entries so far, declared bytes so far) after each central directory header."""
    position, stop = offset, min(offset + size, len(artifact))
    entries = declared = 0
    while position < stop:
        if position + _DIRECTORY_ENTRY.size > len(artifact):
            raise ArtifactError("the artifact is not a ZIP file: its directory is cut short")
        header = _DIRECTORY_ENTRY.unpack_from(artifact, position)
        if header[0] != b"PK\x01\x02":
            raise ArtifactError("the artifact is not a ZIP file: a broken directory entry")
        uncompressed, name_length, extra_length, comment_length = header[9:13]
        entries += 1
        # 0xFFFFFFFF means "in the ZIP64 extra field": more than a skill may hold anyway.
        declared += MAX_ARTIFACT_BYTES + 1 if uncompressed == 0xFFFFFFFF else uncompressed
        position += _DIRECTORY_ENTRY.size + name_length + extra_length + comment_length
        yield entries, declared


def generate_prompt_section(
    skills: Sequence[ResolvedSkill], paths: Mapping[str, str], *, inline: bool = False
) -> str:
    """The system prompt's list of skills: name, description and where the SKILL.md is."""
    if not skills:
        return ""
    lines = [
        "## Skills",
        "",
        "Skills are instructions (and scripts) for specific tasks, in the sandbox's "
        f"`{SKILLS_FOLDER}/` folder, one folder per skill. When a task matches a skill's "
        "description, read its SKILL.md with read_file first and follow it. Paths a skill "
        "names (scripts/..., references/...) are inside its own folder: commands run in "
        f"the sandbox root, so run a skill's script as `{SKILLS_FOLDER}/<skill>/scripts/...`.",
        "",
    ]
    for skill in skills:
        document = skill.document
        lines.append(f"- **{document.name}** ({paths[skill.id]}): {document.description}")
        if inline:
            lines += ["", document.body.strip(), ""]
    return "\n".join(lines) + "\n"
