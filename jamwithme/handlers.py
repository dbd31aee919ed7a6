"""Django's ASGI handler, with the middleware chain and the view run on one thread.

Django's own `ASGIHandler` runs the chain on the event loop for as long as it can. Every
middleware built on `MiddlewareMixin` (all of Django's: sessions, CSRF, auth, messages...)
then hands its `process_request` and `process_response` to the request's thread one at a
time, so a page crosses between the event loop and that thread about twenty times. Each
crossing waits its turn on the loop that every socket and every other request shares. On
the library page that cost a fifth of the page's CPU (bench/load.py; docs/running.md).

Here the chain is built as for WSGI and run whole on the request's thread: one crossing
there and one back. Everything else is Django's: the body is read and the response sent on
the event loop, and a streaming response's async iterator (`tracks.media.AsyncChunks`)
still reads on threads of its own. As under WSGI, a client that goes away once the chain
has started no longer stops it between two middleware: the view and the middleware run to
the end and the response is dropped (streams stop at their next chunk).

Django documents no way to choose how a handler runs its chain, so this leans on two
methods of `BaseHandler` that are public in name but not in the docs: `load_middleware(
is_async=...)` and `get_response_async`, which `ASGIHandler.run_get_response` awaits. No
private attribute is read or written. `tests/jamwithme/test_handlers.py` holds a version
guard that fails when the installed Django stops calling them as this relies on.
"""

from asgiref.sync import sync_to_async
from django.core.handlers.asgi import ASGIHandler


class OneThreadASGIHandler(ASGIHandler):
    def load_middleware(self, is_async=False):
        # The WSGI chain: sync middleware around a sync `_get_response`.
        super().load_middleware(is_async=False)

    async def get_response_async(self, request):
        # WSGI's `get_response` (the chain, then the response's closers and the log line for
        # an error), called as one coroutine. `thread_sensitive`: on the request's own thread
        # (ASGIHandler opens a ThreadSensitiveContext per request), where Django keeps its
        # database connection.
        return await sync_to_async(self.get_response, thread_sensitive=True)(request)


def get_asgi_application() -> OneThreadASGIHandler:
    """`django.core.asgi.get_asgi_application`, with this handler."""
    import django

    django.setup(set_prefix=False)
    return OneThreadASGIHandler()
