"""The upload page in a real browser with a bucket (moto's S3 server on loopback): the song
goes from Chromium straight to the bucket in parts (static/js/upload.js), a connection cut
at the second part is resumed by pressing Upload again, sending only what the bucket lacks,
and the track is separated and plays. The engine is the tests' fake."""

import uuid

import boto3
import pytest

from tests import fakes
from tests.browsing import CHROMIUM_ARGS, serve, sign_up
from tests.tracks.conftest import KEY, REGION, SECRET

pytestmark = [pytest.mark.browser, pytest.mark.s3]


@pytest.fixture
def site_with_bucket(s3_endpoint, tmp_path):
    name = f"jam-{uuid.uuid4().hex[:12]}"
    boto3.client(
        "s3",
        endpoint_url=s3_endpoint,
        region_name=REGION,
        aws_access_key_id=KEY,
        aws_secret_access_key=SECRET,
    ).create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": REGION})
    environment = {
        "AWS_STORAGE_BUCKET_NAME": name,
        "AWS_S3_ENDPOINT_URL": s3_endpoint,
        "AWS_S3_REGION_NAME": REGION,
        "AWS_S3_ADDRESSING_STYLE": "path",
        "AWS_S3_ACCESS_KEY_ID": KEY,
        "AWS_S3_SECRET_ACCESS_KEY": SECRET,
        "SEPARATION_ENGINE_FACTORY": "tests.fakes.worker_engine",
    }
    yield from serve(tmp_path, environment)


def test_a_song_goes_straight_to_the_bucket_resumes_after_a_cut_and_plays(
    chromium_path, site_with_bucket, tmp_path, screenshots
):
    from playwright.sync_api import sync_playwright

    site = site_with_bucket
    song = fakes.write_wav(tmp_path / "Straight up.wav", seconds=60.0)  # two parts of 8 MiB
    puts = []  # part numbers the bucket was sent
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1100, "height": 900})
            page.on(
                "requestfinished",
                lambda request: (
                    request.method == "PUT"
                    and puts.append(int(request.url.split("partNumber=")[1].split("&")[0]))
                ),
            )
            sign_up(page, site, tmp_path / "serve.log")
            page.goto(f"{site}/tracks/upload/")
            assert page.get_attribute("#upload-form", "data-direct") == "/tracks/upload/direct/"

            # The connection drops whenever part 2 is sent: every try of it fails.
            page.route("**/*partNumber=2*", lambda route: route.abort("connectionreset"))
            page.set_input_files("#id_file", str(song))
            page.click("form[data-upload] button[type=submit]")
            page.wait_for_selector("[data-role=upload-errors] li")
            assert "Press Upload again" in page.inner_text("[data-role=upload-errors]")
            page.screenshot(path=screenshots / "direct-upload-cut.png", full_page=True)
            assert puts == [1]

            page.unroute("**/*partNumber=2*")
            page.reload()  # even after a reload: the key is kept for the chosen file
            page.set_input_files("#id_file", str(song))
            page.click("form[data-upload] button[type=submit]")
            page.wait_for_url(f"{site}/tracks/*-*-*-*-*/", timeout=60_000)
            assert puts == [1, 2]  # part 1 was not sent again

            page.wait_for_selector(
                "[data-player][data-parts='instrumental vocals']", timeout=120_000
            )
            page.click("[data-player] [data-action=play]")
            page.wait_for_function(
                "() => { const p = document.querySelector('[data-player]').jamPlayer;"
                " return p && p.playing && p.position() > 0.5; }",
                timeout=60_000,
            )
            page.screenshot(path=screenshots / "direct-upload-playing.png", full_page=True)
            meta = page.locator(".track-detail > .meta").first.inner_text()
            assert "1:00" in meta and "Straight up.wav" in meta
        finally:
            browser.close()
