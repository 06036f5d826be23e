"""`.env` in the project folder: settings a developer keeps beside the code.

The environment wins over `.env`: a variable set in the shell is never
replaced, so `FOO=x agent-runner ...` always means what it says. The format is
the common one: `NAME=value` lines, optional `export `, single or double
quotes, `#` comments and blank lines.
"""

from __future__ import annotations

import os
import re
from collections.abc import MutableMapping
from pathlib import Path

from agent_runner.errors import ConfigError

DOTENV_FILE = ".env"
_LINE = re.compile(r"^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$")


def read_dotenv(path: Path) -> dict[str, str]:
    """The variables of a `.env` file; `ConfigError` names each line it cannot read."""
    values: dict[str, str] = {}
    problems: list[str] = []
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        match = _LINE.match(line)
        if match is None:
            problems.append(f"{path}:{number}: expected NAME=value")
            continue
        name, value = match.groups()
        if value[:1] in ("'", '"'):
            quote = value[0]
            end = value.find(quote, 1)
            if end < 0:
                problems.append(f"{path}:{number}: {name}: the quote is not closed")
                continue
            value = value[1:end]
        else:
            value = re.sub(r"\s+#.*$", "", value).strip()
        values[name] = value
    if problems:
        raise ConfigError(problems)
    return values


def load_dotenv(
    folder: Path | None = None, environ: MutableMapping[str, str] | None = None
) -> Path | None:
    """Add the variables of `folder/.env` that `environ` does not set; the file read, if any."""
    path = (folder or Path.cwd()) / DOTENV_FILE
    if not path.is_file():
        return None
    target = os.environ if environ is None else environ
    for name, value in read_dotenv(path).items():
        target.setdefault(name, value)
    return path


__all__ = ["DOTENV_FILE", "load_dotenv", "read_dotenv"]
