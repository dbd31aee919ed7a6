"""An HTTP request's ASGI scope, as a server would give the app (jamwithme.asgi)."""


def http_scope(path: str, *, method: str = "GET", headers: list | tuple = ()) -> dict:
    """``headers``: (name, value) byte pairs after `Host: testserver`."""
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"testserver"), *headers],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }


def closing_connections(prepare):
    """``prepare`` for `sync_to_async` in an async test, then the database connections it
    opened on that thread closed: the test's teardown closes only its own thread's, and
    PostgreSQL will not drop the test database while another is open."""

    def run():
        from django.db import connections

        try:
            return prepare()
        finally:
            connections.close_all()

    return run
