"""A real MCP server over stdio that leaks: it prints its token on stderr and shows its
whole environment, for tests of what a server is given and where its stderr goes."""

import json
import os
import sys

from mcp.server.fastmcp import FastMCP

server = FastMCP("leaky")


@server.tool()
def environment() -> str:
    """Every environment variable this server was started with, as JSON."""
    return json.dumps(dict(os.environ), sort_keys=True)


@server.tool()
def shout(text: str) -> str:
    """Print `text` and the token on stderr."""
    print(f"shouting {text} with token {os.environ.get('LEAKY_TOKEN', '')}", file=sys.stderr)
    sys.stderr.flush()
    return "shouted"


if __name__ == "__main__":
    print(f"leaky starting with token {os.environ.get('LEAKY_TOKEN', '')}", file=sys.stderr)
    sys.stderr.flush()
    server.run(transport="stdio")
