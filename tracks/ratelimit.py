"""A simple fixed-window rate limit for the share-link pages, which anyone can open: per
client address, JAM_SHARE_LINK_REQUESTS_PER_MINUTE requests a minute, counted in Django's
cache (per process in the embedded mode; shared once a shared cache is configured)."""

import functools
import time

from django.conf import settings
from django.core.cache import cache
from django.shortcuts import render

from accounts.throttling import client_ip


def rate_limited(view):
    @functools.wraps(view)
    def wrapper(request, *args, **kwargs):
        window = int(time.time() // 60)
        key = f"sharelink-rate:{client_ip(request)}:{window}"
        cache.add(key, 0, timeout=120)
        try:
            count = cache.incr(key)
        except ValueError:  # expired between add and incr
            cache.set(key, 1, timeout=120)
            count = 1
        if count > settings.JAM_SHARE_LINK_REQUESTS_PER_MINUTE:
            response = render(
                request,
                "message_page.html",
                {
                    "title": "Too many requests",
                    "message": "This link was opened too often just now. Try again in a minute.",
                },
                status=429,
            )
            response["Retry-After"] = "60"
            return response
        return view(request, *args, **kwargs)

    return wrapper
