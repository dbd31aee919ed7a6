"""The web process's PostgreSQL pool (JAM_DB_POOL_SIZE): requests and sockets borrow an open
connection, never more than the pool's size, instead of opening one each."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection

ROOT = Path(__file__).resolve().parents[2]

# Ten "requests" on six threads, each doing what Django does around a request: query, then
# close (which, pooled, gives the connection back). The backend pids tell the connections apart.
BORROW = """
import json, threading, django
django.setup()
from django.db import connection
pids, lock = [], threading.Lock()
def request():
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    connection.close()
    with lock:
        pids.append(pid)
def thread():
    for _ in range(10):
        request()
threads = [threading.Thread(target=thread) for _ in range(6)]
for t in threads: t.start()
for t in threads: t.join()
print(json.dumps(pids))
"""


def backend_pids(tmp_path, **env) -> list[int]:
    db = connection.settings_dict
    url = f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    result = subprocess.run(
        [sys.executable, "-c", BORROW],
        cwd=ROOT,
        env={
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "jamwithme.settings",
            "DATABASE_URL": url,
            "SECRET_KEY": "pool-test-" + "x" * 50,
            "JAM_VAR_DIR": str(tmp_path),
            **env,
        },
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.splitlines()[-1])


@pytest.fixture
def postgresql(db):
    if connection.vendor != "postgresql":
        pytest.skip("the pool is PostgreSQL's (the scale-out pass)")


def test_pooled_requests_share_at_most_the_pools_connections(postgresql, tmp_path):
    pids = backend_pids(tmp_path, JAM_DB_POOL_SIZE="3")
    assert len(pids) == 60
    assert len(set(pids)) <= 3


def test_without_a_pool_each_request_opens_a_connection_of_its_own(postgresql, tmp_path):
    pids = backend_pids(tmp_path, JAM_DB_POOL_SIZE="0")
    assert len(set(pids)) == 60
