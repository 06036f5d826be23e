"""The one command: `agent-runner <subcommand>`.

Each subcommand is a small function taking parsed arguments and returning an
exit code. A user's mistake (bad configuration, bad input) ends in one clear
line on stderr and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import atexit
import contextlib
import dataclasses
import logging
import os
import shutil
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NoReturn

from rich.console import Console

from agent_runner import __version__
from agent_runner.config import Config
from agent_runner.dotenv import load_dotenv
from agent_runner.errors import AgentRunnerError, ConfigError
from agent_runner.local.manifests import DEFAULT_RESOURCES_DIR, ManifestError, load_catalog
from agent_runner.local.signals import stop_event_on_signals
from agent_runner.logs import configure_logging

# The heavy parts (Temporal, LangGraph, gRPC servers) are imported by the commands
# that use them, so that `--help` and `config` answer at once.

DEFAULT_LISTEN = "127.0.0.1:50051"

Command = Callable[[argparse.Namespace], int]

EXIT_USAGE = 2
TEMPORAL_BRIDGE = "temporalio.bridge.temporal_sdk_bridge"
"""The Temporal SDK's native module: loaded once a command talked to Temporal."""


def _config_command(args: argparse.Namespace) -> int:
    config = _mode_config()
    for group, settings in config.describe_groups().items():
        print(f"{group}:")
        width = max(len(key) for key in settings)
        for key, value in settings.items():
            print(f"  {key:<{width}}  {value}")
    for warning in config.warnings():
        print(f"warning: {warning}")
    return 0


def _mode_config() -> Config:
    """The config of `MODE`; when MODE is unset and the cloud settings are missing, say
    how to choose first (a developer's project wants MODE=local)."""
    try:
        return Config.load_from_env()
    except ConfigError as err:
        if os.environ.get("MODE", "").strip():
            raise
        raise ConfigError(
            [
                "MODE is not set, so this is checked as MODE=cloud (the platform); on your "
                "machine set MODE=local (export MODE=local, or a line MODE=local in .env)",
                *err.problems,
            ]
        ) from None


def _local_config() -> Config:
    """Local commands always run in MODE=local, whatever MODE the shell has."""
    return Config.load_from_env({**os.environ, "MODE": "local"})


def _catalog_dirs(args: argparse.Namespace) -> tuple[Path, Path | None]:
    resources_dir = Path(args.resources) if args.resources else DEFAULT_RESOURCES_DIR
    skills_dir = Path(args.skills)
    return resources_dir, skills_dir if skills_dir.is_dir() else None


def _daemon_command(args: argparse.Namespace) -> int:
    from agent_runner.local.daemon import DaemonSettings, LocalDaemon

    config = _local_config()
    configure_logging(config.log_level, log_format=config.log_format)
    catalog = load_catalog(*_catalog_dirs(args))
    settings = DaemonSettings(
        listen=args.listen, token=config.backend.api_key.reveal(), data_dir=config.data_dir
    )

    async def serve() -> None:
        daemon = LocalDaemon(settings, catalog)
        stop = stop_event_on_signals()
        await daemon.start()
        print(
            f"daemon listening on {args.listen}: {len(catalog.agents)} agents, "
            f"{len(catalog.skills)} skills, data in {config.data_dir}",
            flush=True,
        )
        try:
            await stop.wait()
        finally:
            await daemon.stop()

    asyncio.run(serve())
    return 0


def _worker_command(args: argparse.Namespace) -> int:
    from agent_runner.worker import run_worker
    from agent_runner.workflow import ORCHESTRATOR_TASK_QUEUE

    config = _mode_config()
    configure_logging(config.log_level, log_format=config.log_format)

    async def serve() -> None:
        await run_worker(
            config,
            stop_event_on_signals(),
            orchestrator_queue=ORCHESTRATOR_TASK_QUEUE if args.with_orchestrator else None,
        )

    asyncio.run(serve())
    return 0


def _up_command(args: argparse.Namespace) -> int:
    from agent_runner.local.stack import ensure_provider_key, stdin_is_terminal
    from agent_runner.local.up_command import serve_up

    config = ensure_provider_key(_local_config(), interactive=stdin_is_terminal())
    if args.web_port is not None:
        config = dataclasses.replace(config, web_port=args.web_port)
    configure_logging(config.log_level, log_format=config.log_format)
    resources_dir, skills_dir = _catalog_dirs(args)
    catalog = load_catalog(resources_dir, skills_dir)
    asyncio.run(
        serve_up(
            config, catalog, resources_dir, skills_dir or Path(args.skills), web=not args.no_web
        )
    )
    return 0


def _run_command(args: argparse.Namespace) -> int:
    from agent_runner.local.run_command import RunRequest, run_command

    config = _local_config()
    log_dir = config.data_dir / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    configure_logging(config.log_level, log_dir / "run.log")
    resources_dir, skills_dir = _catalog_dirs(args)
    request = RunRequest(
        message=args.message,
        agent=args.agent,
        session=args.session,
        model=args.model,
        json_output=args.json,
        resources_dir=resources_dir,
        skills_dir=skills_dir,
        continue_last=getattr(args, "continue_last", False),
        resources_given=args.resources is not None,
        skills_given=args.skills_given,
    )
    return asyncio.run(run_command(config, request, Console(highlight=False)))


DEMO_MESSAGE = (
    "Survey this workspace: measure it with the repo-stats skill, find open TODO/FIXME "
    "markers with the todo-scan skill, and write a short report to reports/README.md."
)


def _demo_command(args: argparse.Namespace) -> int:
    args.message, args.agent, args.session, args.model, args.json = (
        DEMO_MESSAGE,
        "demo",
        None,
        None,
        False,
    )
    code = _run_command(args)
    if code == 0:
        print(NEXT_STEPS.format(activate=_activation_hint()))
    return code


NEXT_STEPS = """
next steps{activate}
  agent-runner up                                          # the stack in the foreground
  agent-runner run "Profile data.csv" --agent data-analyst # in another terminal
  agent-runner list                                        # recent executions and their ids
  agent-runner new agent my-agent && agent-runner validate --resources resources
  agent-runner --help"""


def _activation_hint() -> str:
    """How to reach `agent-runner` from this shell, when it is not on the PATH yet."""
    executable = Path(sys.argv[0]).resolve() if sys.argv and sys.argv[0] else None
    on_path = shutil.which("agent-runner")
    if on_path is not None and (executable is None or Path(on_path).resolve() == executable):
        return ":"
    venv = Path(sys.prefix)
    activate = venv / "bin" / "activate"
    if not activate.is_file():
        return ":"
    try:
        shown = activate.relative_to(Path.cwd())
    except ValueError:
        shown = activate
    return f" (first, in each new shell: source {shown}):"


def _skills_lint_command(args: argparse.Namespace) -> int:
    from agent_runner.skilltools.commands import lint_command

    return lint_command([Path(p) for p in args.paths])


def _skills_test_command(args: argparse.Namespace) -> int:
    from agent_runner.skilltools.commands import test_command

    configure_logging("WARNING")
    return test_command([Path(p) for p in args.paths], record=args.record, model=args.model)


def _list_command(args: argparse.Namespace) -> int:
    from agent_runner.local.run_command import list_command

    return list_command(_local_config(), Console(highlight=False), args.limit)


def _logs_command(args: argparse.Namespace) -> int:
    from agent_runner.local.run_command import logs_command

    return logs_command(
        _local_config(),
        Console(highlight=False),
        args.execution_id,
        full=args.full,
        json_output=args.json,
    )


def _validate_command(args: argparse.Namespace) -> int:
    from agent_runner.local.scaffold import validate

    resources_dir, skills_dir = _catalog_dirs(args)
    return validate(resources_dir, skills_dir)


def _new_command(args: argparse.Namespace) -> int:
    from agent_runner.local.scaffold import new_agent, new_skill

    if args.what == "agent":
        folder = Path(args.resources or "resources")
        return new_agent(args.name, folder)
    return new_skill(args.name, Path(args.skills))


def _port(text: str) -> int:
    if not text.isdigit() or not 0 <= int(text) <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port (a number from 0 to 65535)")
    return int(text)


def _add_catalog_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--resources",
        default=os.environ.get("AGENT_RUNNER_RESOURCES_DIR") or None,
        help="folder of YAML manifests (default: the example set shipped with agent-runner, "
        "env AGENT_RUNNER_RESOURCES_DIR)",
    )
    parser.add_argument(
        "--skills",
        default=None,
        help="folder of skills, one folder each with a SKILL.md (default skills, "
        "env AGENT_RUNNER_SKILLS_DIR)",
    )


def _resolve_skills_option(args: argparse.Namespace) -> None:
    """`--skills` given, or its variable, or `skills`; and whether it was given at all."""
    if not hasattr(args, "skills"):
        return
    given = args.skills or os.environ.get("AGENT_RUNNER_SKILLS_DIR") or None
    args.skills_given = given is not None
    args.skills = given or "skills"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="agent-runner",
        description="A sandboxed runtime for AI agents on Temporal.",
    )
    parser.add_argument("--version", action="version", version=f"agent-runner {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    config = commands.add_parser(
        "config",
        help="validate the environment and show the effective configuration (no secrets)",
    )
    config.set_defaults(handler=_config_command)

    daemon = commands.add_parser(
        "daemon",
        help="run the local backend (agents, skills, sessions, executions) over gRPC",
        description="Serve the Stigmer backend's gRPC services from local manifests and "
        "skills, storing sessions and executions in SQLite under AGENT_RUNNER_DATA_DIR. "
        "Calls must carry 'authorization: Bearer <STIGMER_API_KEY>' (default dummy-local-key).",
    )
    daemon.add_argument(
        "--listen",
        default=os.environ.get("AGENT_RUNNER_DAEMON_LISTEN", DEFAULT_LISTEN),
        help="host:port to listen on (default %(default)s, env AGENT_RUNNER_DAEMON_LISTEN)",
    )
    _add_catalog_options(daemon)
    daemon.set_defaults(handler=_daemon_command)

    worker = commands.add_parser(
        "worker",
        help="run the Temporal worker that executes agents (ExecuteGraphton and friends)",
        description="Poll TEMPORAL_AGENT_EXECUTION_RUNNER_TASK_QUEUE for EnsureThread, "
        "ExecuteGraphton and CleanupSandbox. SIGTERM or Ctrl-C stops polling, lets running "
        "executions finish for a grace period, then cancels them.",
    )
    worker.add_argument(
        "--with-orchestrator",
        action="store_true",
        help="also run the reference orchestrator workflow (queue agent_execution_stigmer)",
    )
    worker.set_defaults(handler=_worker_command)

    up = commands.add_parser(
        "up",
        help="start the whole local stack (Temporal, daemon, workers) until Ctrl-C",
        description="Start the Temporal dev server (unless TEMPORAL_SERVICE_ADDRESS already "
        "answers), the local daemon, the runner's worker and the reference workflow's worker, "
        "in the foreground, and serve the web view on 127.0.0.1 (its URL is in the banner). "
        "Ctrl-C or SIGTERM stops all of it.",
    )
    _add_catalog_options(up)
    up.add_argument(
        "--web-port",
        type=_port,
        metavar="PORT",
        help="port of the web view on 127.0.0.1 (default 8234, env AGENT_RUNNER_WEB_PORT)",
    )
    up.add_argument("--no-web", action="store_true", help="do not serve the web view")
    up.set_defaults(handler=_up_command)

    run = commands.add_parser(
        "run",
        help="run an agent on a message and watch it live",
        description="Create an execution in the daemon, start the reference workflow and show "
        "the execution live. Uses the stack of `agent-runner up` when one is running, else "
        "starts one for this run. Exit code: 0 completed, 1 failed, 130 interrupted (Ctrl-C "
        "cancels the execution).",
    )
    run.add_argument("message", help="what to ask the agent")
    run.add_argument("--agent", default="demo", help="agent slug (default %(default)s)")
    sessions = run.add_mutually_exclusive_group()
    sessions.add_argument("--session", help="continue this session (its id: ses-...)")
    sessions.add_argument(
        "--continue",
        dest="continue_last",
        action="store_true",
        help="continue the session of the latest execution",
    )
    run.add_argument(
        "--model",
        help="model for this execution: a name for the configured provider, or provider:model",
    )
    run.add_argument("--json", action="store_true", help="print the final status as JSON only")
    _add_catalog_options(run)
    run.set_defaults(handler=_run_command)

    demo = commands.add_parser(
        "demo",
        help="what `make run` shows: the demo agent surveys ./workspace with two skills",
        description="Run the demo agent on its task: offline on the scripted model, or live "
        "when a provider key (ANTHROPIC_API_KEY, OPENAI_API_KEY) is set.",
    )
    _add_catalog_options(demo)
    demo.set_defaults(handler=_demo_command)

    skills = commands.add_parser(
        "skills", help="for skill authors: lint skills, run their scenarios"
    )
    skill_commands = skills.add_subparsers(dest="skills_command", metavar="COMMAND", required=True)
    skills_lint = skill_commands.add_parser(
        "lint",
        help="check front matter, referenced files, executable scripts and sizes",
        description="Print `file:line: problem` for every problem; exit 1 when there are any.",
    )
    skills_lint.add_argument(
        "paths", nargs="*", default=["skills"], help="skill folders (default: skills)"
    )
    skills_lint.set_defaults(handler=_skills_lint_command)
    skills_test = skill_commands.add_parser(
        "test",
        help="run the scenarios in skills/<name>/tests/*.yaml, like tests",
        description="Run each scenario in a fresh temporary sandbox through the same steps as "
        "ExecuteGraphton and report `N passed, N failed`; exit 1 when any failed. "
        "With --record, run on a live model and write its turns back into the scenario.",
    )
    skills_test.add_argument(
        "paths", nargs="*", default=["skills"], help="skills or scenario files"
    )
    skills_test.add_argument("--record", action="store_true", help="record turns from a live model")
    skills_test.add_argument(
        "--model", help="live model (provider:model) for `live` scenarios and --record"
    )
    skills_test.set_defaults(handler=_skills_test_command)

    listing = commands.add_parser("list", help="recent executions of the local daemon")
    listing.add_argument("--limit", type=int, default=20, help="how many (default %(default)s)")
    listing.set_defaults(handler=_list_command)

    logs = commands.add_parser(
        "logs", help="replay a stored execution (the latest when no id is given)"
    )
    logs.add_argument("execution_id", nargs="?", help="aex-... (see `agent-runner list`)")
    logs.add_argument("--full", action="store_true", help="every tool call's whole output")
    logs.add_argument("--json", action="store_true", help="the whole stored execution as JSON")
    logs.set_defaults(handler=_logs_command)

    validate = commands.add_parser(
        "validate",
        help="check manifests, offline scripts and skills without starting anything",
        description="Load the resources and skills as `up` would, lint the skills and read "
        "each agent's offline script; print every problem as `file:line: ...`, exit 1 "
        "when there are any.",
    )
    _add_catalog_options(validate)
    validate.set_defaults(handler=_validate_command)

    new = commands.add_parser(
        "new",
        help="scaffold an agent or a skill that runs offline at once",
        description="`new agent NAME` writes resources/NAME.yaml and its offline script "
        "resources/offline/NAME.yaml; `new skill NAME` writes skills/NAME/ with SKILL.md, a "
        "script and a scenario that passes offline. Existing files are never overwritten.",
    )
    new.add_argument("what", choices=["agent", "skill"])
    new.add_argument("name", help="lowercase letters, digits and dashes")
    _add_catalog_options(new)
    new.set_defaults(handler=_new_command)
    return parser


def entry_point() -> NoReturn:
    """The `agent-runner` executable: `main()`, then an exit that survives Temporal's threads.

    The Temporal SDK's Rust runtime keeps threads that may still hold Python objects
    when the interpreter finalizes (temporalio/sdk-python#300); tearing the
    interpreter down under them aborts with `PyGILState_Release` (exit 134). Once
    that runtime was loaded, the process ends without the teardown, after
    running the exit hooks libraries registered (OpenTelemetry exports its last spans
    there) and flushing what it wrote.
    """
    code = main()
    if TEMPORAL_BRIDGE not in sys.modules:
        sys.exit(code)
    atexit._run_exitfuncs()  # what the interpreter would run before its teardown
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    os._exit(code)


def main(argv: Sequence[str] | None = None) -> int:
    try:
        load_dotenv()  # before the parser, whose defaults read the environment
    except ConfigError as err:
        for problem in err.problems:
            print(f"agent-runner: .env: {problem}", file=sys.stderr)
        return EXIT_USAGE
    parser = build_parser()
    args = parser.parse_args(argv)
    _resolve_skills_option(args)
    handler: Command | None = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return EXIT_USAGE
    try:
        return handler(args)
    except ConfigError as err:
        for problem in err.problems:
            print(f"agent-runner: configuration: {problem}", file=sys.stderr)
        return EXIT_USAGE
    except ManifestError as err:
        for problem in err.problems:
            print(f"agent-runner: resources: {problem}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as err:
        print(f"agent-runner: {err}", file=sys.stderr)
        return 1
    except AgentRunnerError as err:
        print(f"agent-runner: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
