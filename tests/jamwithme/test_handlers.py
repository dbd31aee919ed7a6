"""The web process's ASGI handler runs the middleware and the view on the request's thread
in one go, not one middleware at a time (jamwithme/handlers.py)."""

import asyncio
import inspect

import django
import pytest
from asgiref.sync import SyncToAsync, iscoroutinefunction
from channels.db import database_sync_to_async
from django.core.handlers.asgi import ASGIHandler
from django.core.handlers.base import BaseHandler
from django.test import Client

from jamwithme.handlers import OneThreadASGIHandler
from tests.asgi import http_scope
from tests.factories import make_track


async def get(app, path: str, session: str) -> tuple[int, bytes]:
    sent, asked = [], []

    async def receive():
        asked.append(True)
        if len(asked) == 1:
            return {"type": "http.request", "body": b"", "more_body": False}
        await asyncio.sleep(3600)  # the client stays

    async def send(message):
        sent.append(message)

    scope = http_scope(path, headers=[(b"cookie", f"sessionid={session}".encode())])
    await asyncio.wait_for(app(scope, receive, send), timeout=20)
    return sent[0]["status"], b"".join(m.get("body", b"") for m in sent[1:])


@pytest.fixture
def crossings(monkeypatch):
    """What each call of sync_to_async ran: one crossing from the event loop to a thread."""
    ran = []
    crossing = SyncToAsync.__call__

    async def counted(self, *args, **kwargs):
        ran.append(getattr(self.func, "__qualname__", repr(self.func)))
        return await crossing(self, *args, **kwargs)

    monkeypatch.setattr(SyncToAsync, "__call__", counted)
    return ran


@pytest.mark.django_db(transaction=True)
async def test_the_library_page_crosses_to_its_thread_once_for_all_its_middleware_and_view(
    alice, tmp_path, crossings
):
    def prepare():
        make_track(owner=alice, tmp_path=tmp_path, title="Night Drive", separated=True)
        client = Client()
        client.force_login(alice)
        return client.cookies["sessionid"].value

    session = await database_sync_to_async(prepare)()  # its connection closed after
    crossings.clear()
    status, body = await get(OneThreadASGIHandler(), "/", session)
    assert status == 200
    assert b"Night Drive" in body
    # The request_started signal's receivers, the chain with the view, closing the response.
    assert len(crossings) == 3, crossings
    assert "SessionMiddleware.process_request" not in crossings

    # Django's own handler, for comparison: a crossing for each middleware's hooks.
    crossings.clear()
    status, body = await get(ASGIHandler(), "/", session)
    assert status == 200 and b"Night Drive" in body
    assert "SessionMiddleware.process_request" in crossings
    assert len(crossings) > 10, crossings


def test_the_web_process_serves_http_with_this_handler():
    from jamwithme.asgi import application

    app = application.application_mapping["http"]  # under the ASGI middleware around it
    while hasattr(app, "app") and not isinstance(app, OneThreadASGIHandler):
        app = app.app
    assert isinstance(app, OneThreadASGIHandler)


def test_the_installed_django_still_runs_the_chain_the_way_the_handler_relies_on():
    """A version guard: Django documents no way to choose how a handler runs its chain, so
    `OneThreadASGIHandler` overrides two undocumented methods (jamwithme/handlers.py). When
    this fails, read Django's `ASGIHandler` and `BaseHandler` again before changing it."""
    assert django.VERSION[:2] == (5, 2), "a new Django: re-read jamwithme/handlers.py"
    # ASGIHandler builds its chain through load_middleware(is_async=...) ...
    assert list(inspect.signature(BaseHandler.load_middleware).parameters) == ["self", "is_async"]
    assert "self.load_middleware(is_async=True)" in inspect.getsource(ASGIHandler.__init__)
    # ... and runs every request through get_response_async, which may therefore call the
    # sync get_response, the WSGI path, on a thread.
    assert "await self.get_response_async(request)" in inspect.getsource(
        ASGIHandler.run_get_response
    )
    assert iscoroutinefunction(BaseHandler.get_response_async)
    assert not iscoroutinefunction(BaseHandler.get_response)
    assert list(inspect.signature(BaseHandler.get_response).parameters) == ["self", "request"]
