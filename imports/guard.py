"""The import's network guard: every connection the extractor makes, redirects included,
goes through a small forward proxy on 127.0.0.1 that this module runs for the one fetch.

For each connection the proxy reads the target (an absolute ``http://`` request, or
``CONNECT host:443`` for https, whose TLS stays end to end), checks the scheme, port and
name against the operator's policy, resolves the name ONCE, refuses the connection if any
address it resolved to is not a public unicast address, and then connects to exactly the
address it checked (no second DNS answer can come between the check and the connection).
Numeric host forms that C resolvers accept (``2130706433``, ``0x7f000001``, ``0177.0.0.1``,
``127.1``) are parsed here as addresses and checked, never sent to DNS.

It also caps what the fetch may bring in, whatever a server's headers say: bytes on any one
connection (``max_bytes``) and on all of them together (``total_factor`` times that), and
time (``deadline_s``).

Django-free, so its unit tests (tests/imports/test_guard.py) run on the resolver and the
connector alone, with stubs that record every attempt.
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import re
import select
import socket
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

logger = logging.getLogger(__name__)

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], list[str]]
Connector = Callable[[str, int, float], socket.socket]

# Cloud metadata services and names that only mean "this host" or its private network.
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a) for a in ("169.254.169.254", "169.254.170.2", "fd00:ec2::254")
)
BLOCKED_NAMES = ("localhost", "metadata.google.internal", "metadata")
BLOCKED_SUFFIXES = (".localhost", ".internal", ".local", ".localdomain", ".home.arpa")
CGNAT = ipaddress.ip_network("100.64.0.0/10")
NAT64 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))
V4_COMPATIBLE = ipaddress.ip_network("::/96")
_NUMERIC_V4 = re.compile(r"[0-9a-fx.]+")
MAX_HEAD = 64 * 1024


class Refused(Exception):
    """The guard will not connect there: the message is one sentence people can read."""


class Unreachable(Exception):
    """The name did not resolve or the server did not answer: not the user's doing."""


@dataclass(frozen=True)
class Policy:
    """What an import may reach (settings JAM_IMPORT_*; docs/deploy.md)."""

    ports: frozenset[int] = frozenset({80, 443})
    allow_domains: tuple[str, ...] = ()  # empty: any public name
    block_domains: tuple[str, ...] = ()
    # Tests only: exactly one loopback "127.0.0.1:port" that is let through.
    test_allow: tuple[str, int] | None = None
    # An outgoing HTTP proxy to chain to ("host", port); it gets CONNECT <checked ip>:<port>.
    upstream: tuple[str, int] | None = None


def address_refusal(ip: Address) -> str | None:
    """Why an import may not connect to ``ip`` (a few words), or None for a public unicast
    address. IPv6 forms that carry an IPv4 address (mapped, compatible, 6to4, Teredo,
    NAT64) are judged by the IPv4 address too."""
    if ip in METADATA_ADDRESSES:
        return "a cloud metadata address"
    if ip.is_unspecified:
        return "an unspecified address"
    if ip.is_loopback:
        return "a loopback address"
    if ip.is_link_local:
        return "a link-local address"
    if ip.is_multicast:
        return "a multicast address"
    if ip.version == 4 and ip in CGNAT:
        return "a carrier-grade NAT address"
    if ip.version == 6:
        embedded = _embedded_v4(ip)
        if embedded is not None:
            reason = address_refusal(embedded)
            if reason:
                return f"an IPv6 form of {embedded}, {reason}"
            if ip.ipv4_mapped is not None or ip in V4_COMPATIBLE:
                return "an IPv4-mapped IPv6 address"
    if ip.is_private:
        return "a private address"
    if ip.is_reserved:
        return "a reserved address"
    if not ip.is_global:
        return "not a public address"
    return None


def _embedded_v4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        server, client = ip.teredo
        return client if address_refusal(client) else server
    if any(ip in net for net in NAT64) or ip in V4_COMPATIBLE:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def parse_host(host: str) -> tuple[str, Address | None]:
    """The host as compared and resolved: lower case, no brackets or trailing dot, IDNA;
    and the address it already is, if it is one in any form a C resolver would accept."""
    name = host.strip().lower()
    if name.startswith("[") and name.endswith("]"):
        name = name[1:-1]
    name = name.rstrip(".")
    if not name:
        raise Refused("That link has no server name.")
    if ":" in name:  # only an IPv6 literal has colons here
        if "%" in name:
            raise Refused("That link names an IPv6 address with a zone, which is not allowed.")
        try:
            return name, ipaddress.IPv6Address(name)
        except ValueError:
            raise Refused("That link's server address is not valid.") from None
    if _NUMERIC_V4.fullmatch(name):
        try:  # inet_aton: decimal, octal, hex and short forms, parsed here, never resolved
            return name, ipaddress.IPv4Address(socket.inet_aton(name))
        except OSError:
            pass
    try:
        name = name.encode("idna").decode("ascii")
    except UnicodeError:
        raise Refused("That link's server name is not valid.") from None
    return name, None


def _matches(name: str, domains: Iterable[str]) -> bool:
    return any(name == d or name.endswith("." + d) for d in domains)


def system_resolve(host: str, port: int) -> list[str]:
    try:
        answers = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise Unreachable(f"The server name {host} could not be found.") from exc
    return list(dict.fromkeys(answer[4][0] for answer in answers))


def system_connect(ip: str, port: int, timeout: float) -> socket.socket:
    family = socket.AF_INET6 if ":" in ip else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        sock.connect((ip, port))
    except OSError as exc:
        sock.close()
        raise Unreachable(f"The server at {ip} did not answer.") from exc
    return sock


@dataclass
class Guard:
    """Checks and makes one connection at a time: ``open(scheme, host, port)`` returns a
    socket connected to the one address that was checked, or raises Refused before any
    connection (or Unreachable). ``resolve`` and ``connect`` are the system's unless a test
    passes stubs; ``attempts`` lists every (ip, port) a connection was tried to."""

    policy: Policy = field(default_factory=Policy)
    resolve: Resolver = system_resolve
    connect: Connector = system_connect
    timeout: float = 20.0
    attempts: list[tuple[str, int]] = field(default_factory=list)

    def check(self, scheme: str, host: str, port: int) -> list[str]:
        """The addresses to connect to (every one the name resolved to, all checked);
        Refused otherwise."""
        if scheme not in ("http", "https"):
            raise Refused("Only http and https links can be imported.")
        name, literal = parse_host(host)
        test = self.policy.test_allow
        if literal is None:
            if name in BLOCKED_NAMES or name.endswith(BLOCKED_SUFFIXES):
                raise Refused(f"{name} is a local name, which imports may not reach.")
            if _matches(name, self.policy.block_domains):
                raise Refused(f"Imports from {name} are not allowed on this site.")
            if self.policy.allow_domains and not _matches(name, self.policy.allow_domains):
                raise Refused(f"Imports from {name} are not allowed on this site.")
            answers = [ipaddress.ip_address(a.split("%")[0]) for a in self.resolve(name, port)]
            if not answers:
                raise Unreachable(f"The server name {name} could not be found.")
        else:
            if self.policy.allow_domains and (str(literal), port) != test:
                raise Refused("Imports from a bare address are not allowed on this site.")
            answers = [literal]
        for ip in answers:
            if test is not None and (str(ip), port) == test:
                continue
            reason = address_refusal(ip)
            if reason:
                raise Refused(f"That link leads to {ip}, {reason}, which imports may not reach.")
            if port not in self.policy.ports:
                raise Refused(f"That link uses port {port}, which imports may not use.")
        return [str(ip) for ip in answers]

    def open(self, scheme: str, host: str, port: int) -> socket.socket:
        """A socket connected to one of the checked addresses (tried in the resolver's
        order), directly or through the operator's outgoing proxy."""
        addresses = self.check(scheme, host, port)
        failure: Unreachable | None = None
        for ip in addresses:
            try:
                return self._connect(ip, port)
            except Unreachable as exc:
                failure = exc
        raise failure or Unreachable(f"The server {host} did not answer.")

    def _connect(self, ip: str, port: int) -> socket.socket:
        upstream = self.policy.upstream
        if upstream is None:
            self.attempts.append((ip, port))
            return self.connect(ip, port, self.timeout)
        self.attempts.append(upstream)
        sock = self.connect(upstream[0], upstream[1], self.timeout)
        target = f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"
        sock.sendall(f"CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\n".encode())
        head = _read_head(sock)
        if not re.match(rb"HTTP/1\.[01] 2\d\d", head):
            sock.close()
            raise Unreachable("The outgoing proxy refused the connection.")
        return sock


def _read_head(sock: socket.socket) -> bytes:
    """An HTTP head (up to and with the blank line); what came after it is not read."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(1)  # byte by byte: nothing past the head may be swallowed
        if not chunk:
            break
        data += chunk
        if len(data) > MAX_HEAD:
            raise Refused("The request head was too long.")
    return data


def _read_request_head(sock: socket.socket) -> tuple[bytes, bytes]:
    """The client's request head, and any bytes of its body that came with it."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            return b"", b""
        data += chunk
        if len(data) > MAX_HEAD:
            return b"", b""
    head, _, rest = data.partition(b"\r\n\r\n")
    return head, rest


class Stopped(Exception):
    pass


class GuardProxy:
    """The forward proxy that the extractor is pointed at (``proxy`` option) for one fetch.

    ``with GuardProxy(guard, max_bytes=..., deadline_s=...) as proxy:`` listens on
    127.0.0.1 (an ephemeral port, ``proxy.url``) until the block ends. Afterwards
    ``refusal`` holds the first Refused message, ``unreachable`` the first Unreachable one,
    and ``stopped`` says "bytes" or "time" when a cap cut the fetch short."""

    def __init__(
        self,
        guard: Guard,
        *,
        max_bytes: int,
        deadline_s: float,
        idle_s: float = 30,
        total_factor: int = 4,
        stop: threading.Event | None = None,
    ):
        self.guard = guard
        self.max_bytes = max_bytes
        self.max_total = max_bytes * total_factor
        self.deadline = time.monotonic() + deadline_s
        self.idle_s = idle_s
        self.received = 0
        self.refusal: str | None = None
        self.unreachable: str | None = None
        self.stopped: str | None = None
        self._lock = threading.Lock()
        # Set at the end of the block, or by the caller (the job was cancelled): every relay
        # stops, and no new connection is made.
        self._closing = stop or threading.Event()
        self._threads: list[threading.Thread] = []
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(16)
        self._listener.settimeout(0.2)
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}"

    def __enter__(self) -> GuardProxy:
        thread = threading.Thread(target=self._accept, name="import-guard", daemon=True)
        thread.start()
        self._threads.append(thread)
        return self

    def __exit__(self, *exc) -> None:
        self._closing.set()
        until = time.monotonic() + 5  # relays stop within a select's wait; daemons past it
        for thread in list(self._threads):
            thread.join(timeout=max(0.0, until - time.monotonic()))
        self._listener.close()

    def _accept(self) -> None:
        while not self._closing.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            thread = threading.Thread(target=self._serve, args=(client,), daemon=True)
            thread.start()
            self._threads.append(thread)
        # Stopped: a connection waiting in the backlog, or a new one, is refused at once
        # (else the client would wait its whole timeout for an answer that never comes).
        self._listener.close()

    def _serve(self, client: socket.socket) -> None:
        upstream = None
        counted = [0]
        try:
            client.settimeout(self.idle_s)
            head, rest = _read_request_head(client)
            if not head or self._closing.is_set():
                return
            first, *header_lines = head.decode("latin-1").split("\r\n")
            method, target, _version = ([*first.split(" "), "", ""])[:3]
            try:
                if method.upper() == "CONNECT":
                    host, _, port_text = target.rpartition(":")
                    upstream = self.guard.open("https", host, _port(port_text))
                    client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
                    if rest:
                        upstream.sendall(rest)
                else:
                    parts = urlsplit(target)
                    if parts.scheme != "http" or not parts.hostname:
                        raise Refused("Only http and https links can be imported.")
                    upstream = self.guard.open("http", parts.hostname, parts.port or 80)
                    path = parts.path or "/"
                    if parts.query:
                        path += "?" + parts.query
                    lines = [f"{method} {path} HTTP/1.1"]
                    lines += [
                        line
                        for line in header_lines
                        if not line.lower().startswith(("proxy-", "connection:", "keep-alive:"))
                    ]
                    lines.append("Connection: close")
                    upstream.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + rest)
                    self._relay_response_head(client, upstream, counted)
            except Refused as exc:
                self._note("refusal", str(exc))
                _answer(client, 403, str(exc))
                return
            except Unreachable as exc:
                self._note("unreachable", str(exc))
                _answer(client, 502, str(exc))
                return
            self._pump(client, upstream, counted)
        except (OSError, Stopped):
            pass
        finally:
            if upstream is not None:
                upstream.close()
            client.close()

    def _relay_response_head(
        self, client: socket.socket, upstream: socket.socket, counted: list[int]
    ) -> None:
        """Pass the server's response head on with "Connection: close": the client must not
        send its next request (maybe for another server) down this connection."""
        upstream.settimeout(self.idle_s)
        head, rest = _read_request_head(upstream)
        if not head:
            raise Stopped
        lines = [
            line
            for line in head.decode("latin-1").split("\r\n")
            if not line.lower().startswith(("connection:", "keep-alive:", "proxy-connection:"))
        ]
        lines += ["Connection: close", "Proxy-Connection: close"]
        data = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + rest
        self._count(len(rest), counted)
        client.sendall(data)

    def _count(self, size: int, counted: list[int]) -> None:
        """Count bytes that came in on one connection (``counted``, a one-item list)."""
        counted[0] += size
        with self._lock:
            self.received += size
            over = self.received > self.max_total or counted[0] > self.max_bytes
        if over:
            self._note("stopped", "bytes")
            raise Stopped

    def _note(self, what: str, message: str) -> None:
        with self._lock:
            if getattr(self, what) is None:
                setattr(self, what, message)

    def _pump(self, client: socket.socket, upstream: socket.socket, counted: list[int]) -> None:
        """Relay both ways until either side closes, counting what comes in against the
        byte cap, and stopping at the deadline or after ``idle_s`` of silence."""
        quiet_since = time.monotonic()
        while not self._closing.is_set():
            now = time.monotonic()
            if now > self.deadline:
                self._note("stopped", "time")
                return
            if now - quiet_since > self.idle_s:
                return
            ready, _, _ = select.select([client, upstream], [], [], 0.25)
            for sock in ready:
                data = sock.recv(65536)
                if not data:
                    return
                quiet_since = time.monotonic()
                if sock is upstream:
                    self._count(len(data), counted)
                    client.sendall(data)
                else:
                    upstream.sendall(data)


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise Refused("That link's port is not a number.") from None
    if not 0 < port < 65536:
        raise Refused("That link's port is not valid.")
    return port


def _answer(client: socket.socket, status: int, message: str) -> None:
    body = message.encode("utf-8")
    reason = {403: "Forbidden", 502: "Bad Gateway"}[status]
    head = (
        f"HTTP/1.1 {status} {reason}\r\nContent-Type: text/plain; charset=utf-8\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    )
    with contextlib.suppress(OSError):
        client.sendall(head.encode() + body)
