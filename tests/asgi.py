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
