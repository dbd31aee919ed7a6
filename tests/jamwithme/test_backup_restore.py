"""The backup and restore runbook (docs/deploy.md), drilled: the database dumped with the real
pg_dump, the media copied after it, both restored into a fresh database and folder, and the
restored site — the documented web server on them — plays and downloads a track's jam track
to its owner, byte for byte. Prints each step's time. PostgreSQL only (the scale-out pass)."""

import os
import re
import shutil
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest
from django.db import connection
from django.urls import reverse

from catalog.stems import JAM_TRACK
from tests.factories import make_track
from tests.jamwithme.test_static import documented_web_server
from tests.notifications.test_consumers import session_cookie
from tests.ports import bound_socket
from tests.tracks import conftest as s3_fixtures

pytestmark = pytest.mark.django_db(transaction=True)
# The bucket drill's fixtures: a moto server on loopback and a fresh bucket storage uses.
s3_endpoint, s3, bucket = s3_fixtures.s3_endpoint, s3_fixtures.s3, s3_fixtures.bucket


def pg_env() -> tuple[dict, list[str]]:
    """libpq's environment and connection options for the test database's server."""
    db = connection.settings_dict
    env = {**os.environ}
    if db["PASSWORD"]:
        env["PGPASSWORD"] = db["PASSWORD"]
    options = ["-h", db["HOST"] or "127.0.0.1", "-p", str(db["PORT"] or 5432), "-U", db["USER"]]
    return env, options


def run(*command: str) -> float:
    env, options = pg_env()
    started = time.monotonic()
    result = subprocess.run(
        [command[0], *options, *command[1:]], env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return time.monotonic() - started


def get(url: str, cookie: str) -> tuple[int, bytes]:
    request = urllib.request.Request(url, headers={"Cookie": f"sessionid={cookie}"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


@pytest.fixture
def pg_tools(db):
    """PostgreSQL and its client tools (pg_dump, pg_restore, psql): the scale-out pass."""
    if connection.vendor != "postgresql" or not shutil.which("pg_dump"):
        pytest.skip("PostgreSQL and its client tools (the scale-out pass)")


@pytest.fixture
def restored_database(pg_tools):
    name = f"{connection.settings_dict['NAME']}_restored_{uuid.uuid4().hex[:8]}"
    yield name
    run("dropdb", "--if-exists", "--force", name)


def test_a_database_dump_and_a_media_copy_restore_a_site_that_plays_the_jam_track(
    pg_tools, alice, private_media, restored_database, tmp_path
):
    track = make_track(owner=alice, tmp_path=tmp_path, separated=True)
    stem = track.assets.get(kind="stem", stem=JAM_TRACK)
    original = (private_media / stem.name).read_bytes()
    cookie = session_cookie(alice)  # the session is in the dump: the owner stays signed in

    # Backup: the database first, then the files (every file the dump names exists by then).
    dump = tmp_path / "jamwithme.dump"
    times = {"pg_dump": run("pg_dump", "-Fc", "-f", str(dump), connection.settings_dict["NAME"])}
    started = time.monotonic()
    backup_media = tmp_path / "backup-media"
    shutil.copytree(private_media, backup_media)
    times["copy media"] = time.monotonic() - started

    # Restore: a fresh database and folder, as on a new machine.
    times["createdb"] = run("createdb", restored_database)
    times["pg_restore"] = run(
        "pg_restore", "--no-owner", "--exit-on-error", "-d", restored_database, str(dump)
    )
    started = time.monotonic()
    restored_media = tmp_path / "restored-media"
    shutil.copytree(backup_media, restored_media)
    times["copy media back"] = time.monotonic() - started

    db = connection.settings_dict
    url = f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/"
    with bound_socket() as listening:
        listening.listen()
        started = time.monotonic()
        process, site = documented_web_server(
            tmp_path,
            listening,
            DATABASE_URL=url + restored_database,
            MEDIA_ROOT=str(restored_media),
            JAM_DB_POOL_SIZE="2",
        )
        times["restored site answers"] = time.monotonic() - started
        try:
            played = get(site + reverse("tracks:audio", args=[track.id, JAM_TRACK]), cookie)
            downloaded = get(site + reverse("tracks:download", args=[track.id, JAM_TRACK]), cookie)
            page = get(site + reverse("tracks:detail", args=[track.id]), cookie)
        finally:
            process.terminate()
            process.wait(timeout=20)
    assert played == (200, original)
    assert downloaded == (200, original)
    assert page[0] == 200 and track.title.encode() in page[1]

    size = dump.stat().st_size
    print(f"\nbackup-restore drill ({size} bytes dumped, 1 track):")
    for step, seconds in times.items():
        print(f"  {step}: {seconds:.2f} s")


def test_the_documented_role_and_database_let_the_role_create_its_tables(pg_tools, tmp_path):
    """docs/deploy.md's SQL, run as written (under fresh names), makes a role that may log in
    and create tables in its database, as `migrate` does — PostgreSQL 15 refuses that to a
    role that does not own the database."""
    docs = (Path(__file__).resolve().parents[2] / "docs/deploy.md").read_text()
    sql = re.search(r"```sql\n(.*?)```", docs, re.DOTALL).group(1)
    suffix = uuid.uuid4().hex[:8]
    role, database = f"jam_{suffix}", f"{connection.settings_dict['NAME']}_role_{suffix}"
    sql = re.sub(r"\bjamwithme\b", database, re.sub(r"\bjam\b", role, sql))
    env, options = pg_env()
    script = tmp_path / "role.sql"
    script.write_text(sql)
    try:
        run("psql", "-v", "ON_ERROR_STOP=1", "-d", "postgres", "-f", str(script))
        as_role = [o if o != connection.settings_dict["USER"] else role for o in options]
        result = subprocess.run(
            [
                "psql",
                *as_role,
                "-v",
                "ON_ERROR_STOP=1",
                "-d",
                database,
                "-c",
                "CREATE TABLE probe (id bigint PRIMARY KEY); DROP TABLE probe;",
            ],
            env={**env, "PGPASSWORD": "a-long-random-password"},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 0, result.stderr
    finally:
        run("dropdb", "--if-exists", "--force", database)
        run("psql", "-d", "postgres", "-c", f"DROP ROLE IF EXISTS {role}")


@pytest.mark.s3
def test_a_database_dump_and_a_bucket_copy_restore_a_site_that_plays_the_jam_track(
    pg_tools, alice, bucket, s3, s3_endpoint, restored_database, tmp_path
):
    """The same drill with the files in an S3-compatible bucket (moto's, on loopback): the
    bucket is copied object by object (what `aws s3 sync` does) to a backup bucket after the
    dump, and from it into a new bucket the restored site is pointed at."""
    track = make_track(owner=alice, tmp_path=tmp_path, separated=True)
    stem = track.assets.get(kind="stem", stem=JAM_TRACK)
    original = s3.get_object(Bucket=bucket, Key=stem.name)["Body"].read()
    cookie = session_cookie(alice)

    dump = tmp_path / "jamwithme.dump"
    times = {"pg_dump": run("pg_dump", "-Fc", "-f", str(dump), connection.settings_dict["NAME"])}
    backup, restored = f"{bucket}-backup", f"{bucket}-restored"
    started = time.monotonic()
    copied = sync_bucket(s3, bucket, backup)
    times[f"copy bucket ({copied} objects)"] = time.monotonic() - started

    times["createdb"] = run("createdb", restored_database)
    times["pg_restore"] = run(
        "pg_restore", "--no-owner", "--exit-on-error", "-d", restored_database, str(dump)
    )
    started = time.monotonic()
    sync_bucket(s3, backup, restored)
    times["copy bucket back"] = time.monotonic() - started

    db = connection.settings_dict
    url = f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/"
    try:
        with bound_socket() as listening:
            listening.listen()
            started = time.monotonic()
            process, site = documented_web_server(
                tmp_path,
                listening,
                DATABASE_URL=url + restored_database,
                AWS_STORAGE_BUCKET_NAME=restored,
                JAM_DB_POOL_SIZE="2",
            )
            times["restored site answers"] = time.monotonic() - started
            try:  # each answers 302 to a URL signed for the restored bucket, followed here
                played = get(site + reverse("tracks:audio", args=[track.id, JAM_TRACK]), cookie)
                downloaded = get(
                    site + reverse("tracks:download", args=[track.id, JAM_TRACK]), cookie
                )
            finally:
                process.terminate()
                process.wait(timeout=20)
        assert played == (200, original)
        assert downloaded == (200, original)
    finally:
        for name in (backup, restored):
            empty_and_delete(s3, name)

    print(f"\nbackup-restore drill, bucket ({dump.stat().st_size} bytes dumped, 1 track):")
    for step, seconds in times.items():
        print(f"  {step}: {seconds:.2f} s")


def sync_bucket(client, source: str, target: str) -> int:
    """Copy every object of ``source`` into ``target`` (made if missing), never deleting."""
    if target not in {b["Name"] for b in client.list_buckets()["Buckets"]}:
        region = client.meta.region_name
        client.create_bucket(
            Bucket=target, CreateBucketConfiguration={"LocationConstraint": region}
        )
    copied = 0
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=source):
        for item in page.get("Contents", []):
            client.copy_object(
                Bucket=target, Key=item["Key"], CopySource={"Bucket": source, "Key": item["Key"]}
            )
            copied += 1
    return copied


def empty_and_delete(client, name: str) -> None:
    if name not in {b["Name"] for b in client.list_buckets()["Buckets"]}:
        return
    for item in client.list_objects_v2(Bucket=name).get("Contents", []):
        client.delete_object(Bucket=name, Key=item["Key"])
    client.delete_bucket(Bucket=name)
