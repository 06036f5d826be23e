"""`agent-runner skills lint` and `agent-runner skills test`, as a skill author runs them."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
from pathlib import Path

import yaml

from tests.conftest import REPO_ROOT

CLI = [sys.executable, "-m", "agent_runner", "skills"]


def run(*args: str, cwd: Path = REPO_ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": "/usr/bin:/bin", "COLUMNS": "300", "HOME": str(cwd)},
    )


def broken_skill(root: Path) -> Path:
    folder = root / "broken-skill"
    (folder / "scripts").mkdir(parents=True)
    (folder / "SKILL.md").write_text(
        "---\nname: Broken_Skill\n---\n\n# Broken\n\nRun `scripts/missing.py` then "
        "`scripts/run.sh`.\n"
    )
    (folder / "scripts" / "run.sh").write_text("echo no shebang\n")
    return folder


def test_lint_passes_the_shipped_skills() -> None:
    result = run("lint")
    assert result.returncode == 0, result.stdout
    assert "no problems" in result.stdout


def test_lint_finds_each_kind_of_problem(tmp_path: Path) -> None:
    folder = broken_skill(tmp_path)
    result = run("lint", str(folder))
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    skill_md, script = folder / "SKILL.md", folder / "scripts" / "run.sh"
    assert any(
        line.startswith(f"{skill_md}:2: name 'Broken_Skill' must be lowercase") for line in lines
    )
    assert any(
        line.startswith(f"{skill_md}:2: name 'Broken_Skill' differs from its folder")
        for line in lines
    )
    assert any(
        line.startswith(f"{skill_md}:2: front matter has no 'description'") for line in lines
    )
    assert f"{skill_md}:7: refers to scripts/missing.py, which does not exist" in lines
    assert f"{script}:1: script is not executable (chmod +x run.sh)" in lines
    assert f"{script}:1: script has no #! line saying what runs it" in lines


def test_lint_reports_a_missing_front_matter_and_long_descriptions(tmp_path: Path) -> None:
    bare = tmp_path / "bare"
    bare.mkdir()
    (bare / "SKILL.md").write_text("# Bare\n\nNo front matter.\n")
    wordy = tmp_path / "wordy"
    wordy.mkdir()
    (wordy / "SKILL.md").write_text(f"---\nname: wordy\ndescription: {'x' * 2000}\n---\n")
    result = run("lint", str(tmp_path))
    assert f"{bare / 'SKILL.md'}:1: no YAML front matter" in result.stdout
    assert "description is 2000 characters; at most 1024" in result.stdout


def test_skills_test_passes_the_shipped_scenarios() -> None:
    result = run("test")
    assert result.returncode == 0, result.stdout
    assert result.stdout.strip().splitlines()[-1] == "3 passed, 0 failed"


def test_a_scenario_whose_expectation_fails_says_which(tmp_path: Path) -> None:
    skill = tmp_path / "repo-stats"
    shutil.copytree(REPO_ROOT / "skills" / "repo-stats", skill)
    scenario = skill / "tests" / "measures-a-folder.yaml"
    document = yaml.safe_load(scenario.read_text())
    document["expect"]["files"].append({"path": "missing-report.md"})
    document["expect"]["final_answer"] = "never said"
    scenario.write_text(yaml.safe_dump(document))
    result = run("test", str(skill))
    assert result.returncode == 1
    assert "FAILED" in result.stdout
    assert "expected file missing-report.md to exist; it does not" in result.stdout
    assert "expected the final answer to match 'never said'" in result.stdout
    assert result.stdout.strip().splitlines()[-1] == "0 passed, 1 failed"


def test_record_writes_the_models_turns_back_so_the_scenario_replays(tmp_path: Path) -> None:
    skill = tmp_path / "csv-profile"
    shutil.copytree(REPO_ROOT / "skills" / "csv-profile", skill)
    scenario = skill / "tests" / "profiles-a-csv.yaml"
    original = yaml.safe_load(scenario.read_text())
    # The "live" model here is a script with other ids: what it decides is recorded.
    stand_in = tmp_path / "stand-in.yaml"
    turns = original["model"]["turns"]
    stand_in.write_text(yaml.safe_dump({"turns": turns}))
    original["model"] = "live"
    scenario.write_text(yaml.safe_dump(original))
    recorded = run("test", str(skill), "--record", "--model", f"scripted:{stand_in}")
    assert recorded.returncode == 0, recorded.stdout
    assert "RECORDED" in recorded.stdout
    rewritten = yaml.safe_load(scenario.read_text())
    assert [t.get("text", "") for t in rewritten["model"]["turns"]] == [
        t.get("text", "") for t in turns
    ]
    replay = run("test", str(skill))
    assert replay.returncode == 0 and "1 passed, 0 failed" in replay.stdout


def test_a_live_scenario_without_a_live_model_is_skipped(tmp_path: Path) -> None:
    skill = tmp_path / "csv-profile"
    shutil.copytree(REPO_ROOT / "skills" / "csv-profile", skill)
    scenario = skill / "tests" / "profiles-a-csv.yaml"
    document = yaml.safe_load(scenario.read_text())
    document["model"] = "live"
    scenario.write_text(yaml.safe_dump(document))
    result = run("test", str(skill))
    assert result.returncode == 0
    assert "0 passed, 0 failed, 1 skipped" in result.stdout


def test_the_pytest_plugin_runs_each_scenario_as_a_test(tmp_path: Path) -> None:
    skills = tmp_path / "skills"
    shutil.copytree(REPO_ROOT / "skills", skills)
    broken = skills / "todo-scan" / "tests" / "finds-markers.yaml"
    document = yaml.safe_load(broken.read_text())
    document["expect"]["final_answer"] = "never said"
    broken.write_text(yaml.safe_dump(document))
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "agent_runner.skilltools.pytest_plugin",
            "-p",
            "no:cacheprovider",
            "-q",
            str(skills),
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert "1 failed, 2 passed" in result.stdout, result.stdout
    assert "expected the final answer to match 'never said'" in result.stdout


def copied_skill(tmp_path: Path, name: str = "csv-profile") -> tuple[Path, Path]:
    skill = tmp_path / name
    shutil.copytree(REPO_ROOT / "skills" / name, skill)
    return skill, next((skill / "tests").glob("*.yaml"))


def test_typos_in_a_scenario_fail_with_file_and_line(tmp_path: Path) -> None:
    skill, scenario = copied_skill(tmp_path)
    text = scenario.read_text()
    text = text.replace("expect:\n  files:", "expects:\n  final_answer: x\nexpect:\n  file:")
    text = text.replace("  commands:", "  command:")
    scenario.write_text(text)
    result = run("test", str(skill))
    assert result.returncode == 1, result.stdout
    lines = text.splitlines()
    expects_line = lines.index("expects:") + 1
    assert f"{scenario}:{expects_line}: expects: unknown key; did you mean 'expect'?" in (
        result.stdout
    )
    assert "expect.file: unknown key; did you mean 'files'?" in result.stdout
    assert "expect.command: unknown key; did you mean 'commands'?" in result.stdout
    assert "0 passed, 1 failed" in result.stdout


def test_a_scenario_without_expectations_fails(tmp_path: Path) -> None:
    skill, scenario = copied_skill(tmp_path)
    document = yaml.safe_load(scenario.read_text())
    del document["expect"]
    scenario.write_text(yaml.safe_dump(document))
    result = run("test", str(skill))
    assert result.returncode == 1
    assert "a scenario needs expectations" in result.stdout


def test_a_scripted_call_to_a_tool_the_agent_lacks_fails(tmp_path: Path) -> None:
    skill, scenario = copied_skill(tmp_path)
    document = yaml.safe_load(scenario.read_text())
    document["model"]["turns"].insert(0, {"tool_calls": [{"name": "exceute", "args": {}}]})
    scenario.write_text(yaml.safe_dump(document))
    result = run("test", str(skill))
    assert result.returncode == 1
    assert "the model called tool 'exceute', which the agent does not have" in result.stdout


def test_a_failed_record_against_a_dead_provider_leaves_the_file_byte_identical(
    tmp_path: Path,
) -> None:
    skill, scenario = copied_skill(tmp_path)
    before = scenario.read_bytes()
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{probe.getsockname()[1]}/v1"
    result = subprocess.run(
        [*CLI, "test", str(skill), "--record", "--model", "openai:gpt-4.1"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=240,
        env={
            "PATH": "/usr/bin:/bin",
            "HOME": str(tmp_path),
            "STIGMER_LLM_BASE_URL": dead,
            "OPENAI_API_KEY": "sk-fake",
        },
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert "not recorded" in result.stdout
    assert scenario.read_bytes() == before


def test_record_without_a_key_is_one_line(tmp_path: Path) -> None:
    skill, scenario = copied_skill(tmp_path)
    before = scenario.read_bytes()
    result = run("test", str(skill), "--record", "--model", "anthropic:sonnet")
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines() == [
        "agent-runner: model anthropic:sonnet: ANTHROPIC_API_KEY is not set; "
        "export ANTHROPIC_API_KEY=..."
    ]
    assert scenario.read_bytes() == before


def test_record_keeps_the_files_comments_and_formatting(tmp_path: Path) -> None:
    skill, scenario = copied_skill(tmp_path)
    original = scenario.read_text()
    stand_in = tmp_path / "stand-in.yaml"
    stand_in.write_text(yaml.safe_dump({"turns": yaml.safe_load(original)["model"]["turns"]}))
    commented = "# Why this scenario exists: a missing value must be called out.\n" + original
    scenario.write_text(commented)
    recorded = run("test", str(skill), "--record", "--model", f"scripted:{stand_in}")
    assert recorded.returncode == 0, recorded.stdout
    after = scenario.read_text()
    assert after.startswith("# Why this scenario exists")
    # Everything outside the model's turns is as it was written.
    head = commented.split("model:")[0]
    tail = commented.split("\nexpect:")[1]
    assert after.startswith(head) and after.endswith(tail)
