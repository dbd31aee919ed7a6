from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect
from django.views.decorators.http import require_POST

from separation.services import job_cancel, job_retry
from tracks.views import get_track_or_404, safe_next_url


@login_required
@require_POST
def job_retry_view(request, track_id):
    track = get_track_or_404(request, track_id)
    if job_retry(job=track.job):
        messages.success(request, f"“{track.title}” is queued again.")
    else:
        messages.error(request, "Only a failed or cancelled separation can be retried.")
    return redirect(safe_next_url(request, track))


@login_required
@require_POST
def job_cancel_view(request, track_id):
    track = get_track_or_404(request, track_id)
    if job_cancel(job=track.job):
        messages.success(request, f"Separation of “{track.title}” cancelled.")
    else:
        messages.error(request, "Only a separation that has not started can be cancelled.")
    return redirect(safe_next_url(request, track))
