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


class MlpipeHTTPError(HTTPError):
    """An HTTPError that keeps its message as written: tornado doubles each '%' of a
    `log_message` given without args (for its own log line), which the JSON answer
    would show (`runs%%3F`); handlers.MlpipeHandler.write_error answers `message`."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(status, log_message=message, reason=None)
        self.message = message


def _http(status: int, message: str) -> HTTPError:
    return MlpipeHTTPError(status, message)
