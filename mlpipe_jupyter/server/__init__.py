"""The jupyter_server extension: REST routes under `<base_url>/mlpipe/api/`.

Configure it like any server extension:

    c.MlpipeExtension.service_class = "my.module.MyService"   # a MlpipeService subclass
    c.MlpipeService.store_dir = "/data/mlpipe"                # one store for everything
    c.MlpipeService.dashboard_link = "http://scheduler:8787/status"
    c.MlpipeService.fire_schedules = True                     # no separate `mlpipe scheduler`
    c.MlpipeService.gpu_workers = 1      # --gpu 1 steps run (on the CPU) without a GPU
"""

from __future__ import annotations

from typing import Any

from traitlets import Type
from traitlets.config import Configurable

from .manager import MlpipeService


class MlpipeExtension(Configurable):
    """Which service class the handlers call (swap it to change behaviour, or in tests)."""

    service_class = Type(
        default_value=MlpipeService,
        klass=MlpipeService,
        help="The MlpipeService (sub)class behind the REST handlers.",
    ).tag(config=True)


def _jupyter_server_extension_points() -> list[dict[str, str]]:
    return [{"module": "mlpipe_jupyter.server"}]


def _load_jupyter_server_extension(serverapp: Any) -> None:
    from .handlers import handlers

    extension = MlpipeExtension(parent=serverapp)
    service = extension.service_class(parent=serverapp, log=serverapp.log)
    if not service.root_dir:
        service.root_dir = serverapp.root_dir
    web_app = serverapp.web_app
    web_app.settings["mlpipe_service"] = service
    web_app.add_handlers(".*$", handlers(web_app.settings["base_url"]))
    if service.fire_schedules:
        _start_schedule_timer(service)
    serverapp.log.info("mlpipe: REST API at %smlpipe/api/", web_app.settings["base_url"])


def _start_schedule_timer(service: MlpipeService) -> None:
    """Check for due schedules every `fire_interval` seconds, off the event loop."""
    from tornado.ioloop import IOLoop, PeriodicCallback

    def check() -> None:
        future = IOLoop.current().run_in_executor(None, service.fire_due_schedules)
        future.add_done_callback(_log_failure(service))

    PeriodicCallback(check, service.fire_interval * 1000).start()


def _log_failure(service: MlpipeService) -> Any:
    def done(future: Any) -> None:
        if future.exception() is not None:
            service.log.error("mlpipe: firing schedules failed", exc_info=future.exception())

    return done


__all__ = ["MlpipeExtension", "MlpipeService", "_load_jupyter_server_extension"]
