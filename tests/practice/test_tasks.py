"""The scale-out mode's side of renders: the task goes to its own queue and runs the same
service as the embedded worker."""

import pytest

from jamwithme.celery import app
from practice.models import Render
from practice.tasks import render_task
from tests.factories import make_track
from tracks.access import Access


def test_the_render_task_is_routed_to_the_renders_queue():
    route = app.amqp.router.route({}, render_task.name, args=(1,), kwargs={})
    assert route["queue"].name == "renders"


@pytest.mark.django_db(transaction=True)
def test_the_task_takes_an_id_and_makes_that_render(alice, tmp_path, fake_engine):
    from practice.dispatch import export_request, export_settings_parse

    track = make_track(owner=alice, tmp_path=tmp_path, separated=True, seconds=2.0)
    wanted = export_settings_parse(tempo="1.2", fmt="mp3")
    render = export_request(track=track, access=Access.MANAGE, user=alice, wanted=wanted)
    assert render_task.run(render.id) == "done"
    assert render_task.run(render.id) is None  # a duplicate message finds it done
    render.refresh_from_db()
    assert render.status == Render.Status.DONE
    assert render.asset.name.endswith(".mp3") and render.asset.size_bytes > 0
