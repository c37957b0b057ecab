"""Bench-only URLs: every production URL plus ``/bench/trivial``.

The trivial view is the baseline of bench/endpoint.py: a plain Django view that returns the
same bytes (and the same ETag and Cache-Control headers) as the policy endpoint's 200,
through the same middleware, with no authentication, throttle or cache lookup. The bytes are
read once per process from the file named by ``BENCH_TRIVIAL_BODY_FILE``.
"""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path

from django.http import HttpRequest, HttpResponse
from django.urls import path

from corsadmin.urls import urlpatterns as production


@cache
def _body() -> tuple[bytes, str]:
    body = Path(os.environ["BENCH_TRIVIAL_BODY_FILE"]).read_bytes()
    return body, os.environ.get("BENCH_TRIVIAL_ETAG", '"bench"')


def trivial(request: HttpRequest) -> HttpResponse:
    body, etag = _body()
    response = HttpResponse(body, content_type="application/json")
    response["ETag"] = etag
    response["Cache-Control"] = "no-cache"
    return response


urlpatterns = [path("bench/trivial", trivial), *production]
