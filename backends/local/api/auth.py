"""Who may call the engine: no auth on loopback, a bearer token on every route but
``/healthz`` when the engine is bound elsewhere."""

from __future__ import annotations

import hmac
import ipaddress

from ..httpserver import Request, error_response

__all__ = ["make_auth", "is_loopback"]


def is_loopback(host: str) -> bool:
    """Whether ``host`` (a name or an address; empty is the default, loopback) is loopback."""
    if host in ("localhost", ""):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def make_auth(host: str, token: str | None):
    """Bound to loopback: no auth. Elsewhere: a bearer token on every route but /healthz."""
    if is_loopback(host) or not token:
        return None
    expected = f"Bearer {token}".encode()

    def auth(req: Request):
        if req.path == "/healthz":
            return None
        given = req.headers.get("authorization", "").encode()
        if not hmac.compare_digest(given, expected):
            return error_response(
                401, "missing or wrong bearer token", "auth", hint="the token is in the engine's state dir (token file)"
            )
        return None

    return auth
