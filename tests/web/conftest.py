"""The web view's fixtures: its server beside a real daemon, and a real browser.

The browser is Debian's Chromium (`make system-deps`), driven by Playwright from
PyPI; nothing is downloaded at test time (`playwright install` is never run).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from agent_runner.config import Config
from agent_runner.local.daemon import DaemonSettings, LocalDaemon
from agent_runner.local.manifests import DEFAULT_RESOURCES_DIR, load_catalog
from agent_runner.local.temporal_server import free_port
from agent_runner.local.web import WebSettings, WebView
from tests.conftest import REPO_ROOT

TOKEN = "web-test-token"
CHROMIUM = os.environ.get("AGENT_RUNNER_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
SCREENSHOTS = Path(__file__).resolve().parent / ".screenshots"
README_SCREENSHOT = REPO_ROOT / "docs" / "web-view.png"


@dataclass
class ServedView:
    view: WebView
    daemon: LocalDaemon
    workspace: Path

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.view.port}"


@pytest.fixture
async def served_view(tmp_path: Path) -> AsyncIterator[ServedView]:
    """The web view on a free port beside a real daemon (no Temporal: nothing is run)."""
    workspace = tmp_path / "workspace"
    config = Config.load_from_env(
        {
            "MODE": "local",
            "STIGMER_API_KEY": TOKEN,
            "STIGMER_BACKEND_ENDPOINT": f"127.0.0.1:{free_port()}",
            "TEMPORAL_SERVICE_ADDRESS": f"127.0.0.1:{free_port()}",
            "SANDBOX_ROOT_DIR": str(workspace),
            "AGENT_RUNNER_DATA_DIR": str(tmp_path / "data"),
            "STIGMER_LLM_PROVIDER": "scripted",
        }
    )
    daemon = LocalDaemon(
        DaemonSettings(listen=config.backend.endpoint, token=TOKEN, data_dir=config.data_dir),
        load_catalog(DEFAULT_RESOURCES_DIR, REPO_ROOT / "skills"),
    )
    await daemon.start()
    view = WebView(WebSettings(port=0), config, daemon)
    await view.start()
    try:
        yield ServedView(view=view, daemon=daemon, workspace=workspace)
    finally:
        await view.stop()
        await daemon.stop()


# -- `agent-runner up` as a developer starts it, and a browser ------------------------


@dataclass
class Up:
    process: subprocess.Popen[str]
    home: Path
    env: dict[str, str]
    banner: str
    url: str
    """The web view's URL from the banner (with the sign-in fragment)."""

    def script(self, name: str, turns: list[dict[str, object]], chunk_delay_s: float = 0) -> str:
        import yaml

        path = self.home / f"{name}.yaml"
        path.write_text(yaml.safe_dump({"turns": turns, "chunk_delay_s": chunk_delay_s}))
        return f"scripted:{path}"


def up_env(home: Path, **extra: str) -> dict[str, str]:
    inherited = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("STIGMER_", "TEMPORAL_", "ANTHROPIC_", "OPENAI_", "MODE", "AGENT_"))
    }
    return {
        **inherited,
        "TEMPORAL_SERVICE_ADDRESS": f"127.0.0.1:{free_port(also_free=(1000,))}",
        "STIGMER_BACKEND_ENDPOINT": f"127.0.0.1:{free_port()}",
        "SANDBOX_ROOT_DIR": str(home / "workspace"),
        "AGENT_RUNNER_DATA_DIR": str(home / "data"),
        "AGENT_RUNNER_SKILLS_DIR": str(REPO_ROOT / "skills"),
        "AGENT_RUNNER_WEB_PORT": str(free_port()),
        **extra,
    }


def start_up(home: Path, env: dict[str, str], *args: str) -> tuple[subprocess.Popen[str], str]:
    """`agent-runner up` in its own process group, and its banner once it is up."""
    (home / "workspace").mkdir(parents=True, exist_ok=True)
    process = subprocess.Popen(
        [sys.executable, "-m", "agent_runner", "up", *args],
        cwd=home,
        env=env,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        return process, read_until(process, "press Ctrl-C")
    except BaseException:
        stop_up(process)
        raise


def read_until(process: subprocess.Popen[str], marker: str, timeout: float = 180) -> str:
    import select

    assert process.stdout is not None
    fd = process.stdout.fileno()
    seen = b""
    deadline = time.monotonic() + timeout
    while marker.encode() not in seen:
        if time.monotonic() > deadline or process.poll() is not None:
            raise AssertionError(f"never saw {marker!r}; output so far:\n{seen.decode()}")
        ready, _, _ = select.select([fd], [], [], 0.5)
        if ready:
            seen += os.read(fd, 4096)
    return seen.decode()


def stop_up(process: subprocess.Popen[str]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def web_url(banner: str) -> str:
    for line in banner.splitlines():
        if line.strip().startswith("web view"):
            return line.split(None, 2)[2].strip()
    raise AssertionError(f"no web view line in the banner:\n{banner}")


@pytest.fixture(scope="module")
def up(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Up]:
    home = tmp_path_factory.mktemp("web-up")
    env = up_env(home)
    process, banner = start_up(home, env)
    try:
        yield Up(process=process, home=home, env=env, banner=banner, url=web_url(banner))
    finally:
        stop_up(process)


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if not shutil.which(CHROMIUM) and not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: `make system-deps` installs Debian's chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


def save_screenshot(page: object, name: str) -> Path:
    """Each run's view of an execution, for a person to look at (ignored by git)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{time.strftime('%Y%m%d-%H%M%S')}-{name}.png"
    page.screenshot(path=str(path))  # type: ignore[attr-defined]
    if os.environ.get("AGENT_RUNNER_README_SCREENSHOT") == "1":
        README_SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, README_SCREENSHOT)
    return path
