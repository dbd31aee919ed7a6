"""WhiteNoise's middleware, able to run in Django's async middleware chain.

Under ASGI, Django runs the chain of middleware on the event loop for as long as each one
can, and the (sync) view on a thread of the request's own. One sync-only middleware splits
the chain: the request crosses to a thread, back to the event loop for the middleware
inside it, and to a thread again for the view. The event loop is the one every socket and
every other request shares, so each crossing waits its turn there; on the library page
under load (bench/load.py) the crossings cost more than the page. WhiteNoise 6 is sync only.
"""

from asgiref.sync import iscoroutinefunction, markcoroutinefunction, sync_to_async
from whitenoise.middleware import WhiteNoiseMiddleware


class EitherMode:
    """A middleware that runs sync or async, as the chain around it is: call `adopt_mode`
    with the next handler; `__call__` hands an async chain's requests to `__acall__`."""

    sync_capable = True
    async_capable = True
    is_async = False

    def adopt_mode(self, get_response) -> None:
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)


class StaticFilesMiddleware(EitherMode, WhiteNoiseMiddleware):
    """WhiteNoise, sync or async as the chain around it is. A static file is looked up as
    WhiteNoise does and its response built on a thread (it opens and stats the file)."""

    def __init__(self, get_response=None, settings=None):
        if settings is None:
            super().__init__(get_response)
        else:
            super().__init__(get_response, settings)
        self.adopt_mode(get_response)

    def __call__(self, request):
        if self.is_async:
            return self.__acall__(request)
        return super().__call__(request)

    async def __acall__(self, request):
        if self.autorefresh:  # DEBUG: looks on disk
            static_file = await sync_to_async(self.find_file)(request.path_info)
        else:
            static_file = self.files.get(request.path_info)
        if static_file is not None:
            response = await sync_to_async(self.serve)(static_file, request)
            if response.streaming and not response.is_async:
                response.streaming_content = _read_on_a_thread(response.streaming_content)
            return response
        return await self.get_response(request)


async def _read_on_a_thread(chunks):
    """The file's chunks, each read on a thread. Given WhiteNoise's sync iterator, Django's
    ASGI handler would warn ("StreamingHttpResponse must consume synchronous iterators") and
    read the whole file into a list first."""
    iterator = iter(chunks)
    read = sync_to_async(next, thread_sensitive=False)
    while (chunk := await read(iterator, None)) is not None:
        yield chunk
