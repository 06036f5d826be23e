"""SkillWriter (filesystem mode), SKILL.md parsing, safe artifact extraction, prompt section."""

from __future__ import annotations

import io
import stat
import zipfile
from pathlib import Path

import pytest

from agent_runner import wire
from agent_runner.local.manifests import zip_skill_folder
from agent_runner.skills import (
    MAX_ARTIFACT_BYTES,
    MAX_ARTIFACT_ENTRIES,
    ArtifactError,
    ResolvedSkill,
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
    assert paths == {"greeter-id": "/skills/greeter/SKILL.md"}
    folder = tmp_path / "skills" / "greeter"
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
    script = tmp_path / "skills" / "repo-stats" / "scripts" / "stats.py"
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
    assert not (tmp_path / "skills").exists()


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
    assert paths == {"evil": "/skills/etc/SKILL.md"}
    assert (tmp_path / "skills" / "etc" / "SKILL.md").exists()
    assert sanitize_skill_name("../../etc") == "etc"
    assert sanitize_skill_name("...") == "skill"
    assert sanitize_skill_name("My Skill!") == "my-skill"


async def test_a_failed_write_names_the_skill(tmp_path: Path) -> None:
    (tmp_path / "skills").write_text("a file where the folder should be")
    writer = SkillWriter(root_dir=tmp_path, mode="filesystem")
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
    paths = {"greeter": "/skills/greeter/SKILL.md"}
    section = generate_prompt_section(skills, paths)
    assert "- **greeter** (/skills/greeter/SKILL.md): Says hello properly." in section
    assert "Body." not in section
    assert "Body." in generate_prompt_section(skills, paths, inline=True)
    assert generate_prompt_section([], {}) == ""
