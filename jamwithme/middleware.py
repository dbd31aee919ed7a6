"""WhiteNoise's middleware, streaming under ASGI.

The middleware chain runs on the request's thread (jamwithme/handlers.py), so WhiteNoise
runs as it does under WSGI. Its response reads the file with a sync iterator; Django's ASGI
handler would warn ("StreamingHttpResponse must consume synchronous iterators") and read the
whole file into a list first. Under ASGI the chunks are read one at a time on a thread.
"""

from asgiref.sync import sync_to_async
from django.core.handlers.asgi import ASGIRequest
from whitenoise.middleware import WhiteNoiseMiddleware


class StaticFilesMiddleware(WhiteNoiseMiddleware):
    def __call__(self, request):
        # WhiteNoise's own __call__, then the static file's response made streamable.
        if self.autorefresh:  # DEBUG: looks on disk
            static_file = self.find_file(request.path_info)
        else:
            static_file = self.files.get(request.path_info)
        if static_file is None:
            return self.get_response(request)
        response = self.serve(static_file, request)
        if isinstance(request, ASGIRequest) and response.streaming and not response.is_async:
            response.streaming_content = _read_on_a_thread(response.streaming_content)
        return response


async def _read_on_a_thread(chunks):
    """The file's chunks, each read on a thread."""
    iterator = iter(chunks)
    read = sync_to_async(next, thread_sensitive=False)
    while (chunk := await read(iterator, None)) is not None:
        yield chunk
