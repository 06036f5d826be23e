"""The one command: `agent-runner <subcommand>`.

Each subcommand is a small function taking parsed arguments and returning an
exit code. A user's mistake (bad configuration, bad input) ends in one clear
line on stderr and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from agent_runner import __version__
from agent_runner.config import Config
from agent_runner.errors import AgentRunnerError, ConfigError

Command = Callable[[argparse.Namespace], int]

EXIT_USAGE = 2


def _config_command(args: argparse.Namespace) -> int:
    config = Config.load_from_env()
    width = max(len(key) for key in config.describe())
    for key, value in config.describe().items():
        print(f"{key:<{width}}  {value}")
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
    except AgentRunnerError as err:
        print(f"agent-runner: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
