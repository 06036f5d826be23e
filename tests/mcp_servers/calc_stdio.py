"""A real MCP server over stdio, for tests: arithmetic, and who owns it (from its env)."""

import os

from mcp.server.fastmcp import FastMCP

server = FastMCP("calc")


@server.tool()
def add(a: int, b: int) -> int:
    """Add two whole numbers."""
    return a + b


@server.tool()
def multiply(a: int, b: int) -> int:
    """Multiply two whole numbers."""
    return a * b


@server.tool()
def owner() -> str:
    """Who runs this calculator."""
    return os.environ.get("CALC_OWNER", "nobody")


if __name__ == "__main__":
    server.run(transport="stdio")
