"""A real MCP server over streamable HTTP, for tests: looks notes up; needs a token header."""

import sys

from mcp.server.fastmcp import Context, FastMCP

NOTES = {"greeting": "hello from the notes server"}
server = FastMCP("notes", host="127.0.0.1", port=int(sys.argv[1]))


@server.tool()
def lookup(key: str, ctx: Context) -> str:  # type: ignore[type-arg]
    """Look a note up by key."""
    request = ctx.request_context.request
    token = request.headers.get("x-token") if request is not None else None
    if token != sys.argv[2]:
        return "refused: wrong or missing X-Token"
    return NOTES.get(key, f"no note {key!r}")


if __name__ == "__main__":
    server.run(transport="streamable-http")
