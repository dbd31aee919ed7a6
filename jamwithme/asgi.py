"""ASGI entry point: Django for HTTP (behind a limit on the request body's size and the
upload's checks from its head, `separation.precheck`; its
middleware and views on one thread per request, see jamwithme/handlers.py), Channels for the
notification WebSocket."""

import os

from jamwithme.handlers import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "jamwithme.settings")
# Initialise Django before importing anything that touches models.
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from jamwithme.limits import RequestBodyLimit  # noqa: E402
from jamwithme.logs import RequestIdASGI  # noqa: E402
from jamwithme.metrics import SocketCounter  # noqa: E402
from notifications.origin import SameOriginValidator  # noqa: E402
from notifications.routing import websocket_urlpatterns  # noqa: E402
from separation.precheck import UploadPrecheck  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": RequestIdASGI(RequestBodyLimit(UploadPrecheck(django_asgi_app))),
        "websocket": SocketCounter(
            SameOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns)))
        ),
    }
)
