"""Ports for the servers the tests start, in one place.

`bound_socket()` is the way: a socket bound to a port the kernel picks, kept bound by the
test and handed to the server (uvicorn's and `manage.py serve`'s `--fd`), so no other
process can take the port between choosing it and serving on it. It is bound, not
listening: the port refuses connections until the server listens on it, so "it answers"
still means the server is up.

`free_port()` is for a server that cannot be handed a socket (redis-server): the port is
free when it returns, and the server must bind it itself, so another process may take it
first; such a server's start fails loudly (its own log says the address is in use)."""

import socket


def bound_socket(host: str = "127.0.0.1") -> socket.socket:
    """A TCP socket bound to a free port of ``host``, inheritable by a child process (pass
    its ``fileno()`` in ``pass_fds``); close it once the server is gone."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind((host, 0))
    sock.set_inheritable(True)
    return sock


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]
