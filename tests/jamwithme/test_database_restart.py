"""A restarted database (its connections cut: pg_terminate_backend, as a restart or a
failover does to them) costs the web node no 500: the pool tries each connection as it lends
it (CONN_HEALTH_CHECKS) and replaces the dead ones. PostgreSQL only (the scale-out pass)."""

import urllib.error
import urllib.request

import pytest
from django.db import connection
from django.urls import reverse

from tests.jamwithme.test_static import documented_web_server
from tests.notifications.test_consumers import session_cookie
from tests.ports import bound_socket
from tests.separation.workers import database_env

pytestmark = pytest.mark.django_db(transaction=True)


def status_of(url: str, cookie: str) -> int:
    request = urllib.request.Request(url, headers={"Cookie": f"sessionid={cookie}"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def terminate_other_backends() -> int:
    """Cut every other connection to this database: the web server's pooled ones."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        return len(cursor.fetchall())


def test_pages_answer_200_after_the_web_nodes_database_connections_were_cut(alice, tmp_path):
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL's connections (the scale-out pass)")
    cookie = session_cookie(alice)
    with bound_socket() as listening:
        listening.listen()
        process, url = documented_web_server(
            tmp_path, listening, JAM_DB_POOL_SIZE="4", **database_env()
        )
        try:
            library = url + reverse("tracks:library")
            for _ in range(3):  # the pool holds open connections now
                assert status_of(library, cookie) == 200
            assert terminate_other_backends() >= 1

            statuses = [status_of(library, cookie) for _ in range(6)]
            assert statuses == [200] * 6
            assert status_of(url + "/health/ready", cookie) == 200
        finally:
            process.terminate()
            process.wait(timeout=20)
