"""Who may talk to the web view, and the headers every answer carries.

The view serves one developer's machine. A request is refused unless:
- it comes from a loopback address (the server also listens only there);
- its `Host` names this server by a loopback name: a web page on some other
  site cannot reach it by rebinding its own DNS name to 127.0.0.1;
- its `Origin`, when it has one, is this server's own;
- for `/api/`, it carries `Authorization: Bearer <daemon token>` (the token
  the daemon's gRPC API takes);
- for an action (any method but GET), it also carries `Origin` and the
  page's CSRF token in `X-CSRF-Token`, and `Sec-Fetch-Site` is not cross-site.

Every answer carries a strict Content-Security-Policy: scripts and styles only
from this server's files (no inline script, no eval), nothing else loaded.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
from collections.abc import Awaitable, Callable

from aiohttp import web

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
}
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")
CSRF_HEADER = "X-CSRF-Token"


def refusal(status: int, message: str) -> web.Response:
    return web.Response(
        status=status, text=json.dumps({"error": message}), content_type="application/json"
    )


def is_loopback(address: str | None) -> bool:
    if not address:
        return False
    try:
        return ipaddress.ip_address(address.split("%", 1)[0]).is_loopback
    except ValueError:
        return False


class Guard:
    """The checks above, as aiohttp middleware; `port` is the port the server listens on."""

    def __init__(self, token: str, csrf_token: str) -> None:
        self._token = f"Bearer {token}".encode()
        self.csrf_token = csrf_token
        self.port = 0

    @property
    def hosts(self) -> frozenset[str]:
        return frozenset(f"{name}:{self.port}" for name in LOOPBACK_NAMES)

    @property
    def origins(self) -> frozenset[str]:
        return frozenset(f"http://{host}" for host in self.hosts)

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        problem = self.problem(request)
        if problem is not None:
            return refusal(*problem)
        return await handler(request)

    def problem(self, request: web.Request) -> tuple[int, str] | None:
        """Why the request is refused (HTTP status, message), or None."""
        if not is_loopback(request.remote):
            return 403, "the web view answers only this machine"
        if request.host.lower() not in self.hosts:
            return 403, f"unexpected Host {request.host!r}: open the view at 127.0.0.1"
        origin = request.headers.get("Origin")
        if origin is not None and origin.lower() not in self.origins:
            return 403, f"requests from {origin!r} are not accepted"
        if not request.path.startswith("/api/"):
            return None
        if not hmac.compare_digest(request.headers.get("Authorization", "").encode(), self._token):
            return 401, "send 'Authorization: Bearer <STIGMER_API_KEY>' (the daemon's token)"
        if request.method in ("GET", "HEAD"):
            return None
        if origin is None:
            return 403, "an action needs the Origin header of the view"
        if request.headers.get("Sec-Fetch-Site", "same-origin") != "same-origin":
            return 403, "actions are accepted only from the view's own page"
        if not hmac.compare_digest(
            request.headers.get(CSRF_HEADER, "").encode(), self.csrf_token.encode()
        ):
            return 403, f"missing or wrong {CSRF_HEADER}: reload the page"
        return None


async def add_security_headers(request: web.Request, response: web.StreamResponse) -> None:
    """`on_response_prepare`: every answer, files and refusals included."""
    response.headers.update(SECURITY_HEADERS)
    if request.path.startswith("/api/") or request.path == "/":
        response.headers["Cache-Control"] = "no-store"
