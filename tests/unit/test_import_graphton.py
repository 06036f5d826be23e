"""`import graphton` imports each part on first use: the Daytona SDK only for a Daytona
backend, deepagents and LangChain only when an agent, a sandbox or an event type is used.

The SDK and LangChain are most of graphton's import time, users of the local sandbox
never need the SDK, and a command that builds no agent needs neither. Each check runs
in a fresh interpreter, since this one may have imported them already.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def _run(code: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_import_graphton_does_not_import_the_daytona_sdk() -> None:
    code = (
        "import sys, graphton, graphton.sandbox\n"
        "graphton.FilesystemBackend('.')\n"
        "print(sorted(m for m in sys.modules if m == 'daytona' or m.startswith('daytona.')))"
    )
    assert _run(code) == "[]"


def test_a_local_sandbox_from_config_does_not_import_the_daytona_sdk(tmp_path: Path) -> None:
    config = {"type": "filesystem", "root_dir": str(tmp_path)}
    code = (
        "import sys, graphton\n"
        f"graphton.create_sandbox_backend({config!r})\n"
        "print('daytona' in sys.modules)"
    )
    assert _run(code) == "False"


def test_the_daytona_backend_is_still_reachable_by_its_public_names() -> None:
    code = (
        "import sys, graphton\n"
        "from graphton.sandbox import DaytonaBackend\n"
        "from graphton.sandbox.daytona import DaytonaBackend as Defined\n"
        "assert graphton.DaytonaBackend is DaytonaBackend is Defined\n"
        "assert 'DaytonaBackend' in graphton.__all__ and 'DaytonaBackend' in dir(graphton)\n"
        "print('daytona' in sys.modules)"
    )
    assert _run(code) == "True"


def test_a_daytona_sandbox_from_config_imports_the_sdk_then() -> None:
    code = (
        "import sys, graphton\n"
        "backend = graphton.create_sandbox_backend({'type': 'daytona', 'api_key': 'k', "
        "'api_url': 'http://127.0.0.1:9'})\n"
        "print(type(backend).__name__, 'daytona' in sys.modules)"
    )
    assert _run(code) == "DaytonaBackend True"


def test_an_unknown_name_is_an_attribute_error() -> None:
    code = (
        "import graphton, graphton.sandbox\n"
        "for module in (graphton, graphton.sandbox):\n"
        "    try:\n"
        "        module.NoSuchThing\n"
        "    except AttributeError as err:\n"
        "        print(err)\n"
    )
    assert _run(code).splitlines() == [
        "module 'graphton' has no attribute 'NoSuchThing'",
        "module 'graphton.sandbox' has no attribute 'NoSuchThing'",
    ]


def test_a_local_worker_does_not_import_the_daytona_sdk() -> None:
    """The worker's own modules (sandbox manager, activities) leave the SDK to Daytona mode."""
    assert _run("import sys, agent_runner.worker\nprint('daytona' in sys.modules)") == "False"


def test_import_graphton_alone_imports_neither_deepagents_nor_langchain() -> None:
    code = (
        "import sys, graphton\n"
        "from graphton import GraphtonError, SandboxPathError\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'deepagents', 'langchain', "
        "'langchain_core', 'langgraph', 'daytona'}))"
    )
    assert _run(code) == "[]"


def test_every_public_name_is_the_object_of_its_own_module() -> None:
    code = (
        "import importlib, graphton\n"
        "for name in graphton.__all__:\n"
        "    home = importlib.import_module(graphton._HOME_OF[name])\n"
        "    assert getattr(graphton, name) is getattr(home, name), name\n"
        "print(sorted(graphton.__all__) == sorted(graphton._HOME_OF), len(graphton.__all__))"
    )
    assert _run(code) == "True 27"


def test_the_runner_never_reaches_a_graphton_module_it_did_not_import() -> None:
    """With every name imported on first use, `graphton.models.X` after a bare `import
    graphton` fails in a fresh process (a run's model spec did, in `agent-runner run`)."""
    code = (
        "from agent_runner.activities.build_agent import model_spec\n"
        "from agent_runner.config import Config\n"
        "llm = Config.load_from_env({'MODE': 'local', 'STIGMER_LLM_PROVIDER': 'scripted'}).llm\n"
        "print(model_spec(llm, 'openai:gpt-4.1'), model_spec(llm, 'script.yaml'))"
    )
    assert _run(code) == "openai:gpt-4.1 scripted:script.yaml"
