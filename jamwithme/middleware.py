"""WhiteNoise's middleware, streaming under ASGI.

The middleware chain runs on the request's thread (jamwithme/handlers.py), so WhiteNoise
runs as it does under WSGI. Its response reads the file with a sync iterator; Django's ASGI
handler would warn ("StreamingHttpResponse must consume synchronous iterators") and read the
whole file into a list first. Under ASGI the chunks are read one at a time on a thread.

WhiteNoise is used only through its public interface, as any Django middleware: built with
a `get_response` and called with a request. It is given one that answers "not a static
file", so the responses it returns itself are known to be its own; every other request goes
on down the chain untouched.
"""

from pathlib import Path

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.handlers.asgi import ASGIRequest
from django.http import HttpResponse
from whitenoise.middleware import WhiteNoiseMiddleware


class _NotStatic(HttpResponse):
    """WhiteNoise's answer when the request is not for a static file; never sent."""


def _not_static(request):
    return _NotStatic(status=404)


class StaticFilesMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response
        # WhiteNoise warns at start-up when STATIC_ROOT is missing (nothing collected yet).
        Path(settings.STATIC_ROOT).mkdir(parents=True, exist_ok=True)
        self.whitenoise = WhiteNoiseMiddleware(get_response=_not_static)

    def __call__(self, request):
        response = self.whitenoise(request)
        if isinstance(response, _NotStatic):
            return self.get_response(request)
        if isinstance(request, ASGIRequest) and response.streaming and not response.is_async:
            response.streaming_content = _read_on_a_thread(response.streaming_content)
        return response


async def _read_on_a_thread(chunks):
    """The file's chunks, each read on a thread."""
    iterator = iter(chunks)
    read = sync_to_async(next, thread_sensitive=False)
    while (chunk := await read(iterator, None)) is not None:
        yield chunk
