"""The image and the Kubernetes example, checked where no container engine runs: the
Dockerfile's install steps replayed in a clean virtual environment, the manifests
parsed and held to what running in production needs."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import REPO_ROOT

DOCKERFILE = REPO_ROOT / "Dockerfile"
DEPLOYMENT = REPO_ROOT / "deploy" / "kubernetes" / "deployment.yaml"
SECRET = REPO_ROOT / "deploy" / "kubernetes" / "secret.example.yaml"
FULL_INSTALL = "AGENT_RUNNER_TEST_FULL_IMAGE_INSTALL"


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of the Dockerfile, continuation lines joined."""
    joined = DOCKERFILE.read_text().replace("\\\n", " ")
    found = []
    for line in joined.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            found.append((word.upper(), " ".join(rest.split())))
    return found


def all_of(name: str) -> list[str]:
    return [rest for word, rest in instructions() if word == name]


def test_the_image_is_slim_python_and_runs_the_worker_as_a_non_root_user() -> None:
    [base] = all_of("FROM")
    assert base.startswith("python:3.11-slim")
    user = all_of("USER")[-1]
    assert user not in ("root", "0")
    assert json.loads(all_of("ENTRYPOINT")[-1]) == ["agent-runner"]
    assert json.loads(all_of("CMD")[-1]) == ["worker"]
    assert all_of("STOPSIGNAL") == ["SIGTERM"]
    [healthcheck] = all_of("HEALTHCHECK")
    assert "/healthz" in healthcheck
    assert any("MODE=cloud" in env for env in all_of("ENV"))


def test_everything_the_image_copies_exists() -> None:
    for copy in all_of("COPY"):
        *sources, _ = shlex.split(copy)
        for source in sources:
            assert (REPO_ROOT / source).exists(), source


@pytest.mark.timeout(600)
def test_the_install_steps_give_a_working_worker_command(tmp_path: Path) -> None:
    """The image's build: only what COPY brings, installed with pip into a fresh venv.

    Dependencies come from this test run's environment unless
    AGENT_RUNNER_TEST_FULL_IMAGE_INSTALL=1 (then pip fetches them, as the build does)."""
    context = tmp_path / "app"
    context.mkdir()
    for copy in all_of("COPY"):
        *sources, destination = shlex.split(copy)
        for source in sources:
            target = context / (source if destination.endswith("/") else destination)
            if (REPO_ROOT / source).is_dir():
                shutil.copytree(
                    REPO_ROOT / source, target, ignore=shutil.ignore_patterns("__pycache__")
                )
            else:
                shutil.copy(REPO_ROOT / source, target)
    [install] = [run for run in all_of("RUN") if "pip install" in run]
    assert "pip install --no-cache-dir ." in install
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    pip = [str(python), "-m", "pip", "install", "--quiet", "--no-cache-dir"]
    if os.environ.get(FULL_INSTALL) != "1":
        site = Path(sysconfig.get_paths()["purelib"])
        (
            venv
            / "lib"
            / f"python{sys.version_info.major}.{sys.version_info.minor}"
            / "site-packages"
            / "deps.pth"
        ).write_text(f"{site}\n")
        pip += ["--no-deps"]
    subprocess.run([*pip, "."], cwd=context, check=True, timeout=540)

    def installed(*command: str) -> subprocess.CompletedProcess[str]:
        """A command of the installed copy, run away from this checkout."""
        return subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=120)

    where = installed(
        str(python), "-c", "import agent_runner, graphton; print(agent_runner.__file__)"
    )
    assert where.returncode == 0, where.stderr
    assert str(venv) in where.stdout  # the installed copy, not this checkout
    shown = installed(str(venv / "bin" / "agent-runner"), "worker", "--help")
    assert shown.returncode == 0, shown.stderr
    assert "ExecuteGraphton" in shown.stdout
    data = installed(
        str(python),
        "-c",
        "import agent_runner.worker, importlib.resources as r;"
        "print((r.files('agent_runner.proto.agentic.agent.v1') / 'agent.proto').is_file())",
    )
    assert data.returncode == 0, data.stderr
    assert data.stdout.strip() == "True"


def manifests() -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(DEPLOYMENT.read_text()) if doc]


def container_env(container: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {item["name"]: item for item in container.get("env", [])}


def test_the_deployment_is_fit_for_production() -> None:
    [deployment] = [m for m in manifests() if m["kind"] == "Deployment"]
    assert deployment["apiVersion"] == "apps/v1"
    spec = deployment["spec"]
    pod = spec["template"]["spec"]
    [container] = pod["containers"]
    env = container_env(container)
    # Selector and labels agree, or the Deployment owns no pod.
    labels = spec["template"]["metadata"]["labels"]
    assert spec["selector"]["matchLabels"].items() <= labels.items()
    # More than one worker shares conversations only through the checkpoint database.
    if spec["replicas"] > 1:
        database = env["CHECKPOINT_DATABASE_URL"]["valueFrom"]["secretKeyRef"]
        assert not database.get("optional", False)
    # Kubernetes waits at least as long as the worker lets executions finish.
    grace = int(env["WORKER_GRACEFUL_SHUTDOWN_SECONDS"]["value"])
    assert pod["terminationGracePeriodSeconds"] >= grace + 10
    # Readiness follows Temporal and the backend; liveness only the process.
    assert container["readinessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["livenessProbe"]["httpGet"]["path"] != "/healthz"
    assert pod["securityContext"]["runAsNonRoot"] is True
    # No secret written into the manifest: every secret variable comes from a Secret.
    from agent_runner.config import SECRET_VARIABLES

    for name in SECRET_VARIABLES & env.keys():
        assert "value" not in env[name], name
    assert {"secretRef": {"name": "agent-runner"}} in container["envFrom"]
    secret = yaml.safe_load(SECRET.read_text())
    assert secret["kind"] == "Secret"
    assert "CHECKPOINT_DATABASE_URL" in secret["stringData"]
