"""The one place where errors become HTTP statuses.

BadInput -> 400, NotFound -> 404, Conflict -> 409; anything else is a 500 whose message
names the exception (the traceback goes to the server log). Every answer is JSON with a
`message`, written by jupyter_server's APIHandler.write_error.
"""

from __future__ import annotations

from tornado.web import HTTPError

from ..errors import BadInput, Conflict, NotFound

STATUS = ((BadInput, 400), (NotFound, 404), (Conflict, 409))


def to_http_error(exc: BaseException) -> HTTPError:
    if isinstance(exc, HTTPError):
        return exc
    for kind, status in STATUS:
        if isinstance(exc, kind):
            return _http(status, str(exc))
    return _http(500, f"internal error: {type(exc).__name__}: {exc}".splitlines()[0])


def _http(status: int, message: str) -> HTTPError:
    # log_message is %-formatted only when args are given: a message with '%' is safe
    return HTTPError(status, log_message=message, reason=None)
