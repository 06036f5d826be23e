"""SkillWriter (filesystem mode), SKILL.md parsing, safe artifact extraction, prompt section."""

from __future__ import annotations

import asyncio
import io
import shutil
import stat
import struct
import tracemalloc
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from agent_runner import wire
from agent_runner.local.manifests import zip_skill_folder
from agent_runner.skills import (
    MAX_ARTIFACT_BYTES,
    MAX_ARTIFACT_ENTRIES,
    MAX_FRONT_MATTER_BYTES,
    ArtifactError,
    ResolvedSkill,
    SkillDocumentError,
    SkillWriter,
    generate_prompt_section,
    parse_skill_md,
    sanitize_skill_name,
)
from tests.conftest import REPO_ROOT

pytestmark = pytest.mark.anyio

SKILL_MD = "---\nname: greeter\ndescription: Says hello properly.\n---\n\n# Greeter\n\nBody.\n"


def skill(slug: str, skill_md: str = SKILL_MD, artifact: bytes | None = None) -> ResolvedSkill:
    resource = wire.skill.Skill()
    resource.metadata.id = resource.metadata.slug = slug
    resource.spec.skill_md = skill_md
    return ResolvedSkill(skill=resource, artifact=artifact)


def zip_of(entries: dict[str, tuple[bytes, int]]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, (data, mode) in entries.items():
            info = zipfile.ZipInfo(name)
            info.external_attr = mode << 16
            archive.writestr(info, data)
    return buffer.getvalue()


async def test_filesystem_mode_writes_skill_md_and_artifact_files(tmp_path: Path) -> None:
    artifact = zip_of(
        {
            "SKILL.md": (b"stale copy", 0o100644),
            "scripts/run.sh": (b"#!/bin/sh\necho hi\n", 0o100644),
            "data/table.csv": (b"a,b\n", 0o100644),
        }
    )
    writer = SkillWriter(root_dir=tmp_path, mode="filesystem")
    paths = await writer.write_skills([skill("greeter-id", artifact=artifact)])
    assert paths == {"greeter-id": "/.agent-runner/skills/greeter/SKILL.md"}
    folder = tmp_path / ".agent-runner" / "skills" / "greeter"
    assert (folder / "SKILL.md").read_text() == SKILL_MD  # the resource's copy wins
    assert (folder / "data" / "table.csv").read_text() == "a,b\n"
    assert (folder / "scripts" / "run.sh").stat().st_mode & stat.S_IXUSR  # shebang: executable


async def test_the_shipped_skills_round_trip_through_their_artifacts(tmp_path: Path) -> None:
    source = REPO_ROOT / "skills" / "repo-stats"
    resolved = skill(
        "repo-stats",
        (source / "SKILL.md").read_text(),
        artifact=zip_skill_folder(source),
    )
    await SkillWriter(root_dir=tmp_path, mode="filesystem").write_skills([resolved])
    script = tmp_path / ".agent-runner" / "skills" / "repo-stats" / "scripts" / "stats.py"
    assert script.read_bytes() == (source / "scripts" / "stats.py").read_bytes()
    assert script.stat().st_mode & stat.S_IXUSR


@pytest.mark.parametrize(
    ("entries", "message"),
    [
        ({"../evil.sh": (b"x", 0o100644)}, "outside the skill folder"),
        ({"/etc/passwd": (b"x", 0o100644)}, "absolute path"),
        ({"link": (b"/etc/passwd", 0o120777)}, "symbolic link"),
    ],
)
async def test_unsafe_artifacts_are_refused_and_nothing_is_written(
    tmp_path: Path, entries: dict[str, tuple[bytes, int]], message: str
) -> None:
    writer = SkillWriter(root_dir=tmp_path, mode="filesystem")
    with pytest.raises(ArtifactError, match=message):
        await writer.write_skills([skill("bad", artifact=zip_of(entries))])
    assert not (tmp_path / ".agent-runner").exists()


async def test_zip_bombs_and_entry_floods_are_refused(tmp_path: Path) -> None:
    writer = SkillWriter(root_dir=tmp_path, mode="filesystem")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("zeros.bin", b"\0" * (MAX_ARTIFACT_BYTES + 1))
    with pytest.raises(ArtifactError, match="ZIP bomb"):
        await writer.write_skills([skill("bomb", artifact=buffer.getvalue())])
    flood = zip_of({f"f{n}.txt": (b"", 0o100644) for n in range(MAX_ARTIFACT_ENTRIES + 1)})
    with pytest.raises(ArtifactError, match="entries"):
        await writer.write_skills([skill("flood", artifact=flood)])
    with pytest.raises(ArtifactError, match="not a ZIP"):
        await writer.write_skills([skill("junk", artifact=b"not a zip")])


async def test_a_skill_name_cannot_leave_the_skills_folder(tmp_path: Path) -> None:
    evil = skill("evil", skill_md="---\nname: ../../etc\ndescription: x\n---\n")
    paths = await SkillWriter(root_dir=tmp_path, mode="filesystem").write_skills([evil])
    assert paths == {"evil": "/.agent-runner/skills/etc/SKILL.md"}
    assert (tmp_path / ".agent-runner" / "skills" / "etc" / "SKILL.md").exists()
    assert sanitize_skill_name("../../etc") == "etc"
    assert sanitize_skill_name("...") == "skill"
    assert sanitize_skill_name("My Skill!") == "my-skill"


async def test_a_failed_write_names_the_skill(tmp_path: Path) -> None:
    (tmp_path / "root").write_text("a file where the sandbox root should be")
    writer = SkillWriter(root_dir=tmp_path / "root", mode="filesystem")
    with pytest.raises(RuntimeError, match="skill 'greeter'"):
        await writer.write_skills([skill("greeter")])


def test_unknown_mode_or_missing_argument_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="needs root_dir"):
        SkillWriter(mode="filesystem")
    with pytest.raises(ValueError, match="needs sandbox"):
        SkillWriter(mode="daytona")
    with pytest.raises(ValueError, match="'ftp' is unknown"):
        SkillWriter(root_dir="/tmp", mode="ftp")  # type: ignore[arg-type]


def test_skill_md_without_front_matter_takes_name_and_first_paragraph() -> None:
    document = parse_skill_md("# Title\n\nDoes one thing well.\nReally.\n\nMore.", "fallback")
    assert (document.name, document.description) == ("fallback", "Does one thing well. Really.")
    with_front = parse_skill_md(SKILL_MD, "fallback")
    assert (with_front.name, with_front.description) == ("greeter", "Says hello properly.")


def test_prompt_section_lists_name_description_and_path_and_inlines_on_request() -> None:
    skills = [skill("greeter")]
    paths = {"greeter": "/.agent-runner/skills/greeter/SKILL.md"}
    section = generate_prompt_section(skills, paths)
    assert "- **greeter** (/.agent-runner/skills/greeter/SKILL.md): Says hello properly." in section
    assert "Body." not in section
    assert "Body." in generate_prompt_section(skills, paths, inline=True)
    assert generate_prompt_section([], {}) == ""


ALIAS_BOMB = (
    "---\nname: bomb\n"
    'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
    + "".join(
        f"{name}: &{name} [{', '.join([f'*{previous}'] * 9)}]\n"
        for previous, name in zip("abcdefgh", "bcdefghi", strict=True)
    )
    + "description: *i\n---\n\nBody.\n"
)


async def test_a_yaml_alias_bomb_is_refused_before_it_expands(tmp_path: Path) -> None:
    assert len(ALIAS_BOMB) < 600
    tracemalloc.start()
    try:
        with pytest.raises(SkillDocumentError, match=r"skill 'bomb'.*YAML alias"):
            await SkillWriter(root_dir=tmp_path, mode="filesystem").write_skills(
                [skill("bomb", skill_md=ALIAS_BOMB)]
            )
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 5_000_000
    assert not (tmp_path / ".agent-runner").exists()


def test_front_matter_past_the_size_limit_is_refused_unparsed() -> None:
    huge = "---\nname: big\ndescription: " + "x" * MAX_FRONT_MATTER_BYTES + "\n---\nBody.\n"
    with pytest.raises(SkillDocumentError, match="larger than"):
        parse_skill_md(huge, "fallback")
    small = parse_skill_md("---\nname: a\ndescription: b\n---\n" + "y" * 200_000, "f")
    assert (small.name, small.description) == ("a", "b")


def lying_zip(entries: int, declared: int) -> bytes:
    """A ZIP whose central directory lists `entries` empty files declaring `declared`
    bytes each: only headers, so that a huge listing stays small."""
    name = b"f"
    header = struct.pack(
        "<4sHHHHHHIIIHHHHHII",
        b"PK\x01\x02",
        20,
        20,
        0,
        0,
        0,
        0,
        0,
        0,
        declared,
        len(name),
        0,
        0,
        0,
        0,
        0,
        0,
    )
    directory = (header + name) * entries
    end = struct.pack(
        "<4sHHHHIIH",
        b"PK\x05\x06",
        0,
        0,
        min(entries, 0xFFFF),
        min(entries, 0xFFFF),
        len(directory),
        0,
        0,
    )
    return directory + end


async def test_entry_counts_and_declared_sizes_are_checked_before_extraction(
    tmp_path: Path,
) -> None:
    writer = SkillWriter(root_dir=tmp_path, mode="filesystem")
    flood = lying_zip(1_000_000, 0)  # 47 MB of headers: zipfile would build a million objects
    tracemalloc.start()
    try:
        with pytest.raises(ArtifactError, match="entries"):
            await writer.write_skills([skill("flood", artifact=flood)])
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 20_000_000
    with pytest.raises(ArtifactError, match="declares more than"):
        await writer.write_skills(
            [skill("big", artifact=lying_zip(2, MAX_ARTIFACT_BYTES // 2 + 1))]
        )


async def test_a_planted_link_over_the_skills_folder_causes_no_write_outside(
    tmp_path: Path,
) -> None:
    root, outside = tmp_path / "root", tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    (outside / "SKILL.md").write_text("precious")
    (root / ".agent-runner" / "skills").mkdir(parents=True)
    (root / ".agent-runner" / "skills" / "greeter").symlink_to(outside)
    writer = SkillWriter(root_dir=root, mode="filesystem")
    await writer.write_skills([skill("greeter")])
    assert (outside / "SKILL.md").read_text() == "precious"
    assert sorted(p.name for p in outside.iterdir()) == ["SKILL.md"]
    written = root / ".agent-runner" / "skills" / "greeter"
    assert not written.is_symlink() and (written / "SKILL.md").read_text() == SKILL_MD
    # A link higher up, over the runner's own folder, is replaced the same way.
    shutil.rmtree(root / ".agent-runner")
    (root / ".agent-runner").symlink_to(outside)
    await writer.write_skills([skill("greeter")])
    assert sorted(p.name for p in outside.iterdir()) == ["SKILL.md"]
    assert (root / ".agent-runner" / "skills" / "greeter" / "SKILL.md").read_text() == SKILL_MD


def test_executions_writing_the_same_skills_at_once_each_leave_one_whole_version(
    tmp_path: Path,
) -> None:
    """Executions of one workspace start together (two workers, or one at concurrency
    50) and write the same skills: each write must succeed, and what stays is one
    writer's whole folder, never a mix, with nothing of the writing left over."""

    def version(n: int) -> ResolvedSkill:
        files = {f"scripts/v{n}-{i}.py": (b"print(%d)" % n, 0o100644) for i in range(20)}
        return skill("greeter", artifact=zip_of(files))

    def write_repeatedly(n: int) -> None:
        writer = SkillWriter(root_dir=tmp_path, mode="filesystem")
        for _ in range(15):
            asyncio.run(writer.write_skills([version(n)]))

    with ThreadPoolExecutor(max_workers=6) as pool:
        for done in [pool.submit(write_repeatedly, n) for n in range(6)]:
            done.result()  # raises what a writer raised
    skills_folder = tmp_path / ".agent-runner" / "skills"
    assert [p.name for p in skills_folder.iterdir()] == ["greeter"]
    scripts = sorted(p.name for p in (skills_folder / "greeter" / "scripts").iterdir())
    versions = {name.split("-")[0] for name in scripts}
    assert len(versions) == 1 and len(scripts) == 20, scripts


async def test_a_users_own_skills_folder_is_never_touched(tmp_path: Path) -> None:
    own = tmp_path / "skills" / "greeter" / "SKILL.md"
    own.parent.mkdir(parents=True)
    own.write_text("the user's own skill")
    await SkillWriter(root_dir=tmp_path, mode="filesystem").write_skills([skill("greeter")])
    assert own.read_text() == "the user's own skill"


async def test_a_skill_folder_is_replaced_whole_so_no_stale_file_stays(tmp_path: Path) -> None:
    writer = SkillWriter(root_dir=tmp_path, mode="filesystem")
    artifact = zip_of({"scripts/old.py": (b"print(1)", 0o100644)})
    await writer.write_skills([skill("greeter", artifact=artifact)])
    await writer.write_skills([skill("greeter")])
    folder = tmp_path / ".agent-runner" / "skills" / "greeter"
    assert sorted(p.name for p in folder.iterdir()) == ["SKILL.md"]
