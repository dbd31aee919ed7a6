"""The site's own pages. (404.html and 500.html are rendered by Django's own handlers;
500.html without a request, so that it needs nothing that may have failed.)"""

import json
import logging

from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from tracks.views import library

csp_log = logging.getLogger("jamwithme.csp")

# What a violation report's fields may take in the log (a report is the browser's word,
# sent by anyone who likes: kept short, one line).
CSP_REPORT_FIELDS = (
    "document-uri",
    "effective-directive",
    "violated-directive",
    "blocked-uri",
    "source-file",
    "line-number",
    "script-sample",
)
CSP_FIELD_CHARS = 300


@require_GET
def home(request):
    """`/`: a signed-in musician's library; for a visitor, what JamWithMe is, with the way
    in (sign up, log in)."""
    if request.user.is_authenticated:
        return library(request)
    return render(request, "jamwithme/home.html")


@csrf_exempt  # browsers send reports without a token; nothing is changed
@require_POST
def csp_report(request):
    """Where browsers report a Content-Security-Policy violation (`report-uri` in
    settings.CONTENT_SECURITY_POLICY): logged as a warning on `jamwithme.csp`, one line per
    report; answered 204. Its body is under the request ceiling (jamwithme/limits.py)."""
    try:
        report = json.loads(request.body).get("csp-report")
    except (ValueError, AttributeError):
        report = None
    if not isinstance(report, dict):
        return HttpResponse(status=400)
    fields = {
        name: str(report[name])[:CSP_FIELD_CHARS] for name in CSP_REPORT_FIELDS if name in report
    }
    csp_log.warning("CSP violation: %s", json.dumps(fields, ensure_ascii=True))
    return HttpResponse(status=204)
