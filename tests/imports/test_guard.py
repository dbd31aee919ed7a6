"""The import's network guard (`imports.guard`) on its resolver and connector alone: a stub
resolver answers as we say, and a connector records every attempt and opens nothing, so
these tests send no packet at all. Each refused address is refused before any connection."""

import socket

import pytest

from imports.guard import Guard, Policy, Refused, Unreachable, address_refusal, parse_host

PUBLIC_V4 = "93.184.216.34"
PUBLIC_V6 = "2606:2800:220:1:248:1893:25c8:1946"


class StubResolver:
    """Answers from a table (a list per name: one answer per lookup, the last repeated),
    and records each lookup."""

    def __init__(self, answers: dict[str, list[list[str]]]):
        self.answers = answers
        self.lookups: list[str] = []

    def __call__(self, host: str, port: int) -> list[str]:
        self.lookups.append(host)
        if host not in self.answers:
            raise Unreachable(f"The server name {host} could not be found.")
        queue = self.answers[host]
        return queue.pop(0) if len(queue) > 1 else queue[0]


class RecordingConnector:
    """Records every connection attempt and returns one end of a local socket pair."""

    def __init__(self):
        self.attempts: list[tuple[str, int]] = []

    def __call__(self, ip: str, port: int, timeout: float) -> socket.socket:
        self.attempts.append((ip, port))
        ours, theirs = socket.socketpair()
        theirs.close()
        return ours


def guard_with(answers=None, **policy) -> tuple[Guard, StubResolver, RecordingConnector]:
    resolver = StubResolver(answers or {})
    connector = RecordingConnector()
    return Guard(policy=Policy(**policy), resolve=resolver, connect=connector), resolver, connector


# Names the stub resolves: a rebinding name, a name with a private answer among public ones,
# and names that point at the places an attacker wants.
HOSTILE_DNS = {
    "public.example": [[PUBLIC_V4]],
    "loopback.example": [["127.0.0.1"]],
    "mixed.example": [[PUBLIC_V4, "10.1.2.3"]],
    "metadata-alias.example": [["169.254.169.254"]],
    "v6-loopback.example": [["::1"]],
    "v6-mapped.example": [["::ffff:192.168.0.1"]],
    "ula.example": [["fd12:3456::1"]],
    "cgnat.example": [["100.100.100.100"]],
}

# (scheme, host, port) as a link or a redirect's Location names it. At least 25, each
# refused with no connection attempted.
HOSTILE = [
    ("http", "127.0.0.1", 80),
    ("http", "2130706433", 80),  # decimal 127.0.0.1
    ("http", "0177.0.0.1", 80),  # octal
    ("http", "0x7f000001", 80),  # hex
    ("http", "0x7f.0.0.1", 80),  # hex first part
    ("http", "127.1", 80),  # short form
    ("http", "127.0.1", 80),
    ("http", "[::1]", 80),
    ("http", "[::ffff:127.0.0.1]", 80),  # IPv4-mapped
    ("http", "[::ffff:7f00:1]", 80),
    ("http", "[::127.0.0.1]", 80),  # IPv4-compatible
    ("http", "[64:ff9b::7f00:1]", 80),  # NAT64 of loopback
    ("http", "[2002:7f00:1::]", 80),  # 6to4 of loopback
    ("http", "[2002:a9fe:a9fe::]", 80),  # 6to4 of the metadata address
    ("http", "[2001:0:4136:e378:8000:63bf:80ff:fffe]", 80),  # Teredo, client 127.0.0.1
    ("http", "[::]", 80),
    ("http", "[fe80::1]", 80),
    ("http", "[fe80::1%25eth0]", 80),  # a zone
    ("http", "[fc00::1]", 80),
    ("http", "[ff02::1]", 80),
    ("http", "[fd00:ec2::254]", 80),  # AWS metadata, IPv6
    ("http", "169.254.169.254", 80),  # cloud metadata
    ("http", "169.254.170.2", 80),  # ECS task metadata
    ("http", "metadata.google.internal", 80),
    ("http", "localhost", 80),
    ("http", "app.localhost", 80),
    ("http", "LOCALHOST.", 80),
    ("http", "100.64.0.1", 80),  # CGNAT
    ("http", "10.0.0.1", 80),
    ("http", "172.16.5.4", 80),
    ("http", "192.168.1.1", 80),
    ("http", "0.0.0.0", 80),
    ("http", "0", 80),
    ("http", "224.0.0.1", 80),
    ("http", "240.0.0.1", 80),  # reserved
    ("http", "255.255.255.255", 80),
    ("http", "198.18.0.1", 80),  # benchmarking
    ("http", "192.0.2.1", 80),  # documentation
    ("http", "loopback.example", 80),
    ("http", "mixed.example", 80),
    ("http", "metadata-alias.example", 80),
    ("http", "v6-loopback.example", 80),
    ("http", "v6-mapped.example", 80),
    ("http", "ula.example", 80),
    ("http", "cgnat.example", 443),
    ("http", "public.example", 6379),  # a public name on a port not allowed
    ("http", "public.example", 22),
    ("https", PUBLIC_V4, 8443),
    ("ftp", "public.example", 21),
    ("file", "", 0),
    ("gopher", "public.example", 70),
]


def test_the_hostile_corpus_holds_at_least_25_addresses():
    assert len(HOSTILE) >= 25


@pytest.mark.parametrize(("scheme", "host", "port"), HOSTILE, ids=[h for _, h, _ in HOSTILE])
def test_each_hostile_address_is_refused_before_any_connection(scheme, host, port):
    guard, _, connector = guard_with({k: [list(v[0])] for k, v in HOSTILE_DNS.items()})
    with pytest.raises(Refused) as refused:
        guard.open(scheme, host, port)
    assert connector.attempts == []
    assert guard.attempts == []
    assert str(refused.value).endswith(".")  # one sentence people can read


def test_a_redirect_chain_from_a_public_page_into_loopback_stops_at_the_loopback_hop():
    # Every hop of a redirect is a new connection through the guard: the public page is
    # reached, the Location it answers (here each a hostile form) is not.
    guard, _, connector = guard_with({"public.example": [[PUBLIC_V4]]})
    guard.open("http", "public.example", 80)
    for hop in ("127.0.0.1", "[::1]", "2130706433", "169.254.169.254", "localhost"):
        with pytest.raises(Refused):
            guard.open("http", hop, 80)
    assert connector.attempts == [(PUBLIC_V4, 80)]


def test_a_dns_answer_that_changes_between_two_lookups_is_looked_up_once_per_connection():
    # Rebinding: public on the first lookup, loopback on the next. The guard connects to
    # the very address it checked, and the second connection's own lookup is refused.
    guard, resolver, connector = guard_with({"rebind.example": [[PUBLIC_V4], ["127.0.0.1"]]})
    guard.open("https", "rebind.example", 443)
    assert resolver.lookups == ["rebind.example"]
    assert connector.attempts == [(PUBLIC_V4, 443)]
    with pytest.raises(Refused, match=r"127\.0\.0\.1"):
        guard.open("https", "rebind.example", 443)
    assert resolver.lookups == ["rebind.example", "rebind.example"]
    assert connector.attempts == [(PUBLIC_V4, 443)]


def test_a_name_with_any_private_answer_is_refused_even_beside_public_ones():
    guard, _, connector = guard_with({"mixed.example": [[PUBLIC_V4, "192.168.0.7"]]})
    with pytest.raises(Refused, match=r"192\.168\.0\.7"):
        guard.open("https", "mixed.example", 443)
    assert connector.attempts == []


def test_numeric_host_forms_are_parsed_here_and_never_sent_to_the_resolver():
    guard, resolver, _ = guard_with()
    for host in ("2130706433", "0177.0.0.1", "0x7f000001", "127.1"):
        with pytest.raises(Refused, match="loopback"):
            guard.open("http", host, 80)
    assert resolver.lookups == []


def test_public_addresses_on_the_standard_ports_are_let_through_to_the_checked_address():
    guard, _, connector = guard_with({"v6.example": [[PUBLIC_V6]]})
    guard.open("http", PUBLIC_V4, 80)
    guard.open("https", "v6.example", 443)
    guard.open("https", f"[{PUBLIC_V6}]", 443)
    assert connector.attempts == [(PUBLIC_V4, 80), (PUBLIC_V6, 443), (PUBLIC_V6, 443)]


def test_an_operator_may_allow_more_ports():
    guard, _, connector = guard_with(ports=frozenset({80, 443, 8080}))
    guard.open("http", PUBLIC_V4, 8080)
    assert connector.attempts == [(PUBLIC_V4, 8080)]


def test_the_allow_list_admits_its_domains_and_their_subdomains_only():
    answers = {"www.youtube.com": [[PUBLIC_V4]], "evil.example": [[PUBLIC_V4]]}
    guard, resolver, connector = guard_with(answers, allow_domains=("youtube.com",))
    guard.open("https", "www.youtube.com", 443)
    with pytest.raises(Refused, match="not allowed on this site"):
        guard.open("https", "evil.example", 443)
    with pytest.raises(Refused, match="bare address"):
        guard.open("https", PUBLIC_V4, 443)
    assert resolver.lookups == ["www.youtube.com"]
    assert connector.attempts == [(PUBLIC_V4, 443)]


def test_the_block_list_refuses_its_domains_before_resolving_them():
    guard, resolver, connector = guard_with(
        {"cdn.blocked.example": [[PUBLIC_V4]]}, block_domains=("blocked.example",)
    )
    with pytest.raises(Refused, match="not allowed on this site"):
        guard.open("https", "cdn.blocked.example", 443)
    assert resolver.lookups == [] and connector.attempts == []


def test_the_test_allowance_lets_exactly_one_loopback_address_and_port_through():
    guard, _, connector = guard_with(test_allow=("127.0.0.1", 8765))
    guard.open("http", "127.0.0.1", 8765)
    for host, port in (("127.0.0.1", 8766), ("127.0.0.2", 8765), ("[::1]", 8765)):
        with pytest.raises(Refused):
            guard.open("http", host, port)
    assert connector.attempts == [("127.0.0.1", 8765)]


def test_an_outgoing_proxy_is_asked_for_the_checked_address_never_the_name():
    class Proxy(RecordingConnector):
        def __call__(self, ip, port, timeout):
            self.attempts.append((ip, port))
            ours, theirs = socket.socketpair()
            self.sent = theirs
            theirs.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
            return ours

    proxy = Proxy()
    guard = Guard(
        policy=Policy(upstream=("proxy.internal", 3128)),
        resolve=StubResolver({"public.example": [[PUBLIC_V4]]}),
        connect=proxy,
    )
    guard.open("https", "public.example", 443)
    assert proxy.attempts == [("proxy.internal", 3128)]
    assert proxy.sent.recv(1000).startswith(f"CONNECT {PUBLIC_V4}:443 HTTP/1.1".encode())
    with pytest.raises(Refused):
        guard.open("https", "127.0.0.1", 443)
    assert proxy.attempts == [("proxy.internal", 3128)]


def test_a_name_that_does_not_resolve_is_unreachable_not_refused():
    guard, _, connector = guard_with({})
    with pytest.raises(Unreachable, match="could not be found"):
        guard.open("https", "nowhere.example", 443)
    assert connector.attempts == []


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("127.0.0.1", "loopback"),
        ("10.0.0.1", "private"),
        ("100.64.0.1", "carrier-grade NAT"),
        ("169.254.169.254", "metadata"),
        ("169.254.1.1", "link-local"),
        ("224.0.0.251", "multicast"),
        ("0.0.0.0", "unspecified"),
        ("::ffff:10.0.0.1", "IPv6 form of 10.0.0.1"),
        ("2002:c0a8:0101::", "IPv6 form of 192.168.1.1"),
        ("::ffff:8.8.8.8", "IPv4-mapped"),
    ],
)
def test_address_refusal_names_why(address, reason):
    import ipaddress

    assert reason in address_refusal(ipaddress.ip_address(address))


def test_address_refusal_lets_public_unicast_through():
    import ipaddress

    for address in (PUBLIC_V4, "8.8.8.8", PUBLIC_V6, "2002:808:808::"):
        assert address_refusal(ipaddress.ip_address(address)) is None


def test_host_names_are_compared_in_one_form():
    assert parse_host("WWW.Example.COM.") == ("www.example.com", None)
    assert parse_host("bücher.example")[0] == "xn--bcher-kva.example"


def test_a_name_with_several_public_answers_is_tried_answer_by_answer():
    class FirstFails(RecordingConnector):
        def __call__(self, ip, port, timeout):
            if not self.attempts:
                self.attempts.append((ip, port))
                raise Unreachable(f"The server at {ip} did not answer.")
            return super().__call__(ip, port, timeout)

    connector = FirstFails()
    guard = Guard(
        resolve=StubResolver({"two.example": [[PUBLIC_V6, PUBLIC_V4]]}), connect=connector
    )
    guard.open("https", "two.example", 443)
    assert connector.attempts == [(PUBLIC_V6, 443), (PUBLIC_V4, 443)]
