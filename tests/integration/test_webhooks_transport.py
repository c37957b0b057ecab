"""One delivery attempt against real local HTTP servers: redirects are not followed, the
answer is read up to the limit, a slow receiver times out, a loopback URL is refused."""

from __future__ import annotations

import time

from tests.receiver import running
from webhooks import transport


def _post(url: str, **overrides: object) -> transport.Outcome:
    options: dict[str, object] = {
        "body": b"{}",
        "headers": {"webhook-id": "msg_1"},
        "allow_private": True,
        "timeout": 2.0,
        "max_bytes": 1024,
    }
    options.update(overrides)
    return transport.post(url, **options)  # type: ignore[arg-type]


def test_post__redirect__not_followed_and_failed() -> None:
    # Given a receiver that redirects to another server
    with running() as target, running(statuses=[302]) as redirecting:
        redirecting.redirect_to = target.url
        # When a delivery is posted to it
        outcome = _post(redirecting.url)
        # Then the attempt fails, saying why, and the other server got nothing
        assert (outcome.ok, outcome.status_code) == (False, 302)
        assert "redirects are not followed" in outcome.error
        assert target.requests == []


def test_post__huge_answer__read_up_to_limit() -> None:
    # Given a receiver answering 5 MB
    with running() as receiver:
        receiver.answer = b"x" * 5_000_000
        # When a delivery is posted with a 1 KiB limit
        outcome = _post(receiver.url, max_bytes=1024)
    # Then it counts as delivered and only the start of the answer is kept
    assert (outcome.ok, outcome.status_code) == (True, 200)
    assert outcome.excerpt == "x" * 500


def test_post__slow_receiver__times_out() -> None:
    # Given a receiver that takes 3 s to answer
    with running() as receiver:
        receiver.delay = 3.0
        started = time.monotonic()
        # When a delivery is posted with a 0.5 s timeout
        outcome = _post(receiver.url, timeout=0.5)
        waited = time.monotonic() - started
    # Then it fails as a timeout, without waiting for the answer
    assert (outcome.ok, outcome.status_code) == (False, None)
    assert outcome.error == "timed out after 0.5 s"
    assert waited < 3.0


def test_post__loopback_not_allowed__refused_before_connecting() -> None:
    with running() as receiver:
        outcome = _post(receiver.url, allow_private=False)
        assert outcome.error.startswith("refused: 127.0.0.1 resolves to 127.0.0.1, a loopback")
        assert receiver.requests == []


def test_post__host_header__keeps_the_name_while_connecting_to_the_address() -> None:
    # Given a URL naming the receiver by "localhost" (resolved once, then pinned)
    with running() as receiver:
        url = receiver.url.replace("127.0.0.1", "localhost")
        outcome = _post(url)
        # Then the request reached it with Host naming the URL's host
        assert outcome.ok
        [request] = receiver.requests
        assert request.headers["host"].startswith("localhost:")
