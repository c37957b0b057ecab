"""`login_required` that also works for HTMX requests.

A plain redirect to the log-in page would be followed by the browser's XHR and the log-in
page swapped into the middle of the current page; HTMX requests get `HX-Redirect` instead,
so the whole page goes to the log-in form and comes back after it.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar, cast
from urllib.parse import urlencode, urlsplit

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import resolve_url

View = TypeVar("View", bound=Callable[..., HttpResponseBase])


def login_required(view: View) -> View:
    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if request.user.is_authenticated:
            return view(request, *args, **kwargs)
        if request.headers.get("HX-Request") == "true":
            current = urlsplit(request.headers.get("HX-Current-URL", ""))
            back = current.path + (f"?{current.query}" if current.query else "")
            response = HttpResponse(status=401)
            response["HX-Redirect"] = (
                f"{resolve_url(settings.LOGIN_URL)}?{urlencode({'next': back or '/'})}"
            )
            return response
        return redirect_to_login(request.get_full_path())

    return cast(View, wrapper)
