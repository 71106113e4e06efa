"""REST handlers under `<base_url>/mlpipe/api/`: each translates HTTP to one service call.

Every handler is an authenticated, authorized jupyter_server APIHandler; the service
call runs on a thread pool (the event loop stays free), and any error it raises becomes
a JSON answer through errors.to_http_error. docs/openapi.yaml documents the routes.

GET routes (`read`) run on their own pool, so reads never wait behind run starts or
schedule fires, and they are coalesced: requests for the same answer that arrive while
it is being computed, or up to `READ_FRESH_S` after, share that computation and its JSON
text (200 sidebars polling `GET runs` cost one read of the records, not 200). A write
through this server (POST, PATCH, DELETE) forgets them, so its effect shows at once;
what other processes write shows within `READ_FRESH_S`.
"""

from __future__ import annotations

import asyncio
import functools
import json
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable

from jupyter_server.auth.decorator import authorized
from jupyter_server.base.handlers import APIHandler
from jupyter_server.utils import url_path_join
from tornado import web
from tornado.ioloop import IOLoop

from ..errors import BadInput, NotFound
from . import validate
from .errors import MlpipeHTTPError, to_http_error

API_PREFIX = "mlpipe/api"
SEGMENT = r"([^/]+)"
READERS = ThreadPoolExecutor(max_workers=4, thread_name_prefix="mlpipe-read")
READ_FRESH_S = 0.25
_ANSWERS: dict[tuple[Any, ...], asyncio.Future[str]] = {}  # in flight or fresh


class MlpipeHandler(APIHandler):
    auth_resource = "mlpipe"

    @property
    def service(self) -> Any:
        return self.settings["mlpipe_service"]

    def json_body(self) -> Any:
        try:
            return validate.parse(self.request.body)
        except BadInput as exc:
            raise to_http_error(exc) from None

    async def call(self, method: Callable[..., Any], *args: Any) -> Any:
        """Run a service method (a write) off the event loop; its errors become JSON
        answers. The reads kept fresh are forgotten: the next shows what it did."""
        try:
            return await IOLoop.current().run_in_executor(None, functools.partial(method, *args))
        except Exception as exc:
            error = to_http_error(exc)
            if error.status_code >= 500:
                self.log.error("mlpipe: %s failed", method.__name__, exc_info=exc)
            raise error from exc
        finally:
            _ANSWERS.clear()

    async def read(self, method: Callable[..., Any], *args: Any) -> None:
        """Answer a GET with `method(*args)` as JSON, shared with identical reads in flight."""
        key = (id(self.service), method.__name__, *args)
        future = _ANSWERS.get(key)
        if future is None:
            loop = asyncio.get_running_loop()
            future = asyncio.ensure_future(self._compute(loop, method, *args))
            _ANSWERS[key] = future
            future.add_done_callback(functools.partial(_keep_fresh, loop, key))
        text = await asyncio.shield(future)
        self.set_status(200)
        self.finish(text)

    async def _compute(self, loop: Any, method: Callable[..., Any], *args: Any) -> str:
        try:
            return await loop.run_in_executor(READERS, functools.partial(_as_json, method, *args))
        except Exception as exc:
            error = to_http_error(exc)
            if error.status_code >= 500:
                self.log.error("mlpipe: %s failed", method.__name__, exc_info=exc)
            raise error from exc

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        """APIHandler's JSON error, with the message as written (not %-escaped)."""
        error = kwargs.get("exc_info", (None, None, None))[1]
        if not isinstance(error, MlpipeHTTPError):
            super().write_error(status_code, **kwargs)
            return
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps({"message": error.message, "reason": None}))

    def reply(self, data: Any, status: int = 200) -> None:
        self.set_status(status)
        if status == 204:
            self.finish(set_content_type="application/json")
        else:
            self.finish(json.dumps(data))


def _keep_fresh(loop: Any, key: tuple[Any, ...], future: asyncio.Future[str]) -> None:
    """Keep a good answer `READ_FRESH_S`; forget a failed one at once."""
    if future.cancelled() or future.exception() is not None:
        _forget(key, future)
    else:
        loop.call_later(READ_FRESH_S, _forget, key, future)


def _forget(key: tuple[Any, ...], future: asyncio.Future[str]) -> None:
    if _ANSWERS.get(key) is future:
        del _ANSWERS[key]


def _as_json(method: Callable[..., Any], *args: Any) -> str:
    return json.dumps(method(*args))


class DagHandler(MlpipeHandler):
    @web.authenticated
    @authorized
    async def post(self) -> None:
        self.reply(await self.call(self.service.dag, self.json_body()))


class RunsHandler(MlpipeHandler):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        try:
            limit = validate.query_int(self.get_query_argument("limit", ""), "limit")
        except BadInput as exc:
            raise to_http_error(exc) from None
        await self.read(self.service.list_runs, limit)

    @web.authenticated
    @authorized
    async def post(self) -> None:
        self.reply(await self.call(self.service.start_run, self.json_body()), status=202)


class RunRetryHandler(MlpipeHandler):
    @web.authenticated
    @authorized
    async def post(self, run_id: str) -> None:
        self.reply(await self.call(self.service.retry_run, run_id), status=202)


class RunsCompareHandler(MlpipeHandler):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        ids = tuple(i for part in self.get_query_arguments("ids") for i in part.split(",") if i)
        await self.read(self.service.compare_runs, ids)


class RunHandler(MlpipeHandler):
    @web.authenticated
    @authorized
    async def get(self, run_id: str) -> None:
        if self.get_query_argument("lineage", "") not in ("", "0", "false"):
            await self.read(self.service.run_lineage, run_id)
            return
        await self.read(self.service.get_run, run_id)

    @web.authenticated
    @authorized
    async def delete(self, run_id: str) -> None:
        self.reply(await self.call(self.service.cancel_run, run_id), status=202)


class StepNotebookHandler(MlpipeHandler):
    @web.authenticated
    @authorized
    async def get(self, run_id: str, step: str) -> None:
        await self.read(self.service.step_notebook, run_id, step)


class StepLogHandler(MlpipeHandler):
    @web.authenticated
    @authorized
    async def get(self, run_id: str, step: str) -> None:
        await self.read(self.service.step_log, run_id, step)


class PipelinesHandler(MlpipeHandler):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        await self.read(self.service.list_pipelines)

    @web.authenticated
    @authorized
    async def post(self) -> None:
        published, created = await self.call(self.service.publish, self.json_body())
        self.reply(published, status=201 if created else 200)


class PipelineRunsHandler(MlpipeHandler):
    @web.authenticated
    @authorized
    async def post(self, name: str) -> None:
        self.reply(await self.call(self.service.run_pipeline, name, self.json_body()), 202)


class SchedulesHandler(MlpipeHandler):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        await self.read(self.service.list_schedules)

    @web.authenticated
    @authorized
    async def post(self) -> None:
        self.reply(await self.call(self.service.add_schedule, self.json_body()), status=201)


class ScheduleHandler(MlpipeHandler):
    @web.authenticated
    @authorized
    async def patch(self, name: str) -> None:
        self.reply(await self.call(self.service.update_schedule, name, self.json_body()))

    @web.authenticated
    @authorized
    async def delete(self, name: str) -> None:
        await self.call(self.service.remove_schedule, name)
        self.reply(None, status=204)


class CronHandler(MlpipeHandler):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        expr = self.get_query_argument("cron", "")
        await self.read(self.service.cron_preview, expr)


class StatusHandler(MlpipeHandler):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        await self.read(self.service.status)


class StoreHandler(MlpipeHandler):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        await self.read(self.service.store_info)


class NotFoundHandler(MlpipeHandler):
    """Unknown routes under the prefix answer JSON too, never tornado's HTML page."""

    @web.authenticated
    def get(self) -> None:
        method, path = self.request.method, self.request.path
        raise to_http_error(NotFound(f"no such mlpipe API route: {method} {path}"))

    post = put = patch = delete = get


ROUTES: list[tuple[str, type[MlpipeHandler]]] = [
    ("dag", DagHandler),
    ("runs", RunsHandler),
    ("runs/compare", RunsCompareHandler),  # before runs/ID
    (f"runs/{SEGMENT}", RunHandler),
    (f"runs/{SEGMENT}/retry", RunRetryHandler),
    (f"runs/{SEGMENT}/steps/{SEGMENT}/notebook", StepNotebookHandler),
    (f"runs/{SEGMENT}/steps/{SEGMENT}/log", StepLogHandler),
    ("pipelines", PipelinesHandler),
    (f"pipelines/{SEGMENT}/runs", PipelineRunsHandler),
    ("schedules", SchedulesHandler),
    (f"schedules/{SEGMENT}", ScheduleHandler),
    ("cron", CronHandler),
    ("status", StatusHandler),
    ("store", StoreHandler),
    (".*", NotFoundHandler),
]


def handlers(base_url: str) -> list[tuple[str, type[MlpipeHandler]]]:
    return [(url_path_join(base_url, API_PREFIX, route) + "/?$", h) for route, h in ROUTES]
