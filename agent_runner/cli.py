"""The one command: `agent-runner <subcommand>`.

Each subcommand is a small function taking parsed arguments and returning an
exit code. A user's mistake (bad configuration, bad input) ends in one clear
line on stderr and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from agent_runner import __version__
from agent_runner.config import Config
from agent_runner.errors import AgentRunnerError, ConfigError
from agent_runner.local.daemon import DEFAULT_LISTEN, DaemonSettings, LocalDaemon
from agent_runner.local.manifests import DEFAULT_RESOURCES_DIR, ManifestError, load_catalog
from agent_runner.local.signals import stop_event_on_signals
from agent_runner.local.workflow import ORCHESTRATOR_TASK_QUEUE
from agent_runner.logs import configure_logging
from agent_runner.worker import run_worker

Command = Callable[[argparse.Namespace], int]

EXIT_USAGE = 2


def _config_command(args: argparse.Namespace) -> int:
    config = Config.load_from_env()
    width = max(len(key) for key in config.describe())
    for key, value in config.describe().items():
        print(f"{key:<{width}}  {value}")
    return 0


def _daemon_command(args: argparse.Namespace) -> int:
    config = Config.load_from_env({**os.environ, "MODE": "local"})
    configure_logging(config.log_level)
    resources_dir = Path(args.resources) if args.resources else DEFAULT_RESOURCES_DIR
    skills_dir = Path(args.skills)
    catalog = load_catalog(resources_dir, skills_dir if skills_dir.is_dir() else None)
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
    config = Config.load_from_env()
    configure_logging(config.log_level)

    async def serve() -> None:
        await run_worker(
            config,
            stop_event_on_signals(),
            orchestrator_queue=ORCHESTRATOR_TASK_QUEUE if args.with_orchestrator else None,
        )

    asyncio.run(serve())
    return 0


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
    daemon.add_argument(
        "--resources",
        default=os.environ.get("AGENT_RUNNER_RESOURCES_DIR"),
        help="folder of YAML manifests (default: the example set shipped with agent-runner, "
        "env AGENT_RUNNER_RESOURCES_DIR)",
    )
    daemon.add_argument(
        "--skills",
        default=os.environ.get("AGENT_RUNNER_SKILLS_DIR", "skills"),
        help="folder of skills, one folder each with a SKILL.md (default %(default)s, "
        "env AGENT_RUNNER_SKILLS_DIR)",
    )
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
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
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
