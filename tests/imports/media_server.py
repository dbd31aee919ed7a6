"""A media server on loopback for the import tests, the browser test and the bench: a direct
file, a page with <audio>, redirects, a slow server (a file, a page), a lying Content-Length,
an endless body, a page without audio, a page with two songs (a playlist) and a 404. Bound
to 127.0.0.1 on a port the kernel picks; every path asked for is recorded, and `asked` is an
Event per path."""

import threading
import time
from collections import defaultdict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

SONG = Path(__file__).resolve().parents[1] / "data" / "dev1_vocadito10_loops" / "mix.flac"

PAGE = b"""<!doctype html><html><head><title>A song page</title></head>
<body><h1>A song page</h1><audio controls src="/song.flac"></audio></body></html>"""
TWO = b"""<!doctype html><html><head><title>Two songs</title></head>
<body><audio src="/song.flac"></audio><audio src="/other.flac"></audio></body></html>"""
NO_AUDIO = b"""<!doctype html><html><head><title>Just words</title></head>
<body><p>Nothing to hear here.</p></body></html>"""


class MediaServer:
    def __init__(self, song: Path = SONG):
        self.song = song.read_bytes()
        self.paths: list[str] = []
        self.asked: dict[str, threading.Event] = defaultdict(threading.Event)
        self.closing = threading.Event()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.base = f"http://127.0.0.1:{self.port}"
        self.address = f"127.0.0.1:{self.port}"

    def __enter__(self) -> "MediaServer":
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self.closing.set()
        self.httpd.shutdown()
        self.httpd.server_close()

    def url(self, path: str) -> str:
        return self.base + path

    def _handler(self):
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_GET(self):
                parts = urlsplit(self.path)
                server.paths.append(parts.path)
                server.asked[parts.path].set()
                route = {
                    "/song.flac": self.song,
                    "/other.flac": self.song,
                    "/page.html": lambda: self.body(PAGE, "text/html"),
                    "/two.html": lambda: self.body(TWO, "text/html"),
                    "/noaudio.html": lambda: self.body(NO_AUDIO, "text/html"),
                    "/redirect": lambda: self.redirect("/song.flac"),
                    "/redirect-twice": lambda: self.redirect("/redirect"),
                    "/to": lambda: self.redirect(parse_qs(parts.query)["location"][0]),
                    "/slow.flac": self.slow,
                    "/slow.html": self.slow_page,
                    "/lying.flac": self.lying,
                    "/endless.flac": self.endless,
                }.get(parts.path)
                if route is None:
                    return self.body(b"not here", "text/plain", status=404)
                route()

            def do_HEAD(self):
                self.send_response(405)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def body(self, data: bytes, kind: str, status: int = 200):
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def song(self):
                data = server.song
                start = 0
                ranged = self.headers.get("Range", "")
                if ranged.startswith("bytes="):
                    start = int(ranged[6:].split("-")[0] or 0)
                if start:
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
                else:
                    self.send_response(200)
                self.send_header("Content-Type", "audio/flac")
                self.send_header("Content-Length", str(len(data) - start))
                self.send_header("Accept-Ranges", "bytes")
                self.end_headers()
                self.wfile.write(data[start:])

            def redirect(self, location: str):
                self.send_response(302)
                self.send_header("Location", location)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def trickle(self, chunk: bytes, pause: float):
                try:
                    while not server.closing.is_set():
                        self.wfile.write(chunk)
                        self.wfile.flush()
                        if pause:
                            time.sleep(pause)
                except OSError:
                    pass  # the client (the guard) hung up

            def slow(self):
                """Says 1 MB is coming and sends 64 bytes every half second."""
                self.send_response(200)
                self.send_header("Content-Type", "audio/flac")
                self.send_header("Content-Length", str(1024 * 1024))
                self.end_headers()
                self.wfile.write(server.song[:4096])
                self.trickle(b"\0" * 64, 0.5)

            def slow_page(self):
                """A page that never finishes arriving: 64 spaces every half second."""
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(1024 * 1024))
                self.end_headers()
                self.wfile.write(b"<!doctype html><html><head><title>Slow")
                self.trickle(b" " * 64, 0.5)

            def lying(self):
                """Says the file is 100 kB, and never stops sending."""
                self.send_response(200)
                self.send_header("Content-Type", "audio/flac")
                self.send_header("Content-Length", str(100 * 1024))
                self.end_headers()
                self.wfile.write(server.song[:4096])
                self.trickle(b"\0" * 65536, 0)

            def endless(self):
                """No length at all, and a body without end."""
                self.send_response(200)
                self.send_header("Content-Type", "audio/flac")
                self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(server.song[:4096])
                self.trickle(b"\0" * 65536, 0)

            def other(self):
                self.song()

        return Handler
