"""Who may open the notification socket: pages of this very site only.

Channels' `AllowedHostsOriginValidator` compares only the Origin's host with ALLOWED_HOSTS,
so a page on another port of the same host (another app on the machine) could open a socket
with the user's cookies. Here the Origin must match scheme, host and port: the origin the
request itself was made to (its Host header, with https when the socket is secure or a
trusted proxy says so), or one of CSRF_TRUSTED_ORIGINS exactly.
"""

from urllib.parse import urlsplit

from channels.security.websocket import WebsocketDenier
from django.conf import settings
from django.http.request import split_domain_port, validate_host

DEFAULT_PORTS = {"http": 80, "https": 443}


def normalised_origin(url: str) -> tuple[str, str, int] | None:
    """(scheme, host, port) of an http(s) origin, with the default port filled in."""
    try:
        parts = urlsplit(url.strip().lower())
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in DEFAULT_PORTS or not parts.hostname:
        return None
    return parts.scheme, parts.hostname, port or DEFAULT_PORTS[parts.scheme]


def _header(scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return value.decode("latin-1")
    return None


def _request_scheme(scope) -> str:
    if scope.get("scheme") in ("wss", "https"):
        return "https"
    proxy_header = getattr(settings, "SECURE_PROXY_SSL_HEADER", None)
    if proxy_header:
        name, secure_value = proxy_header
        wire_name = name.removeprefix("HTTP_").replace("_", "-").lower().encode()
        if _header(scope, wire_name) == secure_value:
            return "https"
    return "http"


def origin_allowed(scope) -> bool:
    origin = normalised_origin(_header(scope, b"origin") or "")
    host = _header(scope, b"host")
    if origin is None or not host:
        return False
    domain, _ = split_domain_port(host)
    if not domain or not validate_host(domain, settings.ALLOWED_HOSTS):
        return False
    trusted = {normalised_origin(url) for url in settings.CSRF_TRUSTED_ORIGINS}
    own = normalised_origin(f"{_request_scheme(scope)}://{host}")
    return origin == own or origin in trusted


class SameOriginValidator:
    """ASGI middleware for the WebSocket router: refuses a handshake from any other origin."""

    def __init__(self, application):
        self.application = application

    async def __call__(self, scope, receive, send):
        if scope["type"] == "websocket" and not origin_allowed(scope):
            denier = WebsocketDenier()
            return await denier(scope, receive, send)
        return await self.application(scope, receive, send)
