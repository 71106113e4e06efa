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
    _open_the_store_folder(serverapp)
    if service.fire_schedules:
        _start_schedule_timer(service)
    _own_warm_cluster(serverapp, service)
    from .cache_state import preload

    preload()  # the first POST dag finds the analysis and the planner imported
    serverapp.log.info("mlpipe: REST API at %smlpipe/api/", web_app.settings["base_url"])


def _open_the_store_folder(serverapp: Any) -> None:
    """Let the contents API open files under hidden folders, as the installed config asks.

    The executed step notebooks that `GET runs/ID/steps/NAME/notebook` names live in the
    hidden `.mlpipe` store. The installed `jupyter_server_config.d/mlpipe_jupyter.json`
    sets `ContentsManager.allow_hidden`, but `jupyter server` reads only the extension
    list from that folder (`jupyter lab` reads all of it), so the setting is applied here
    too; one set explicitly anywhere (command line, a config file) is left as it is.
    """
    manager = serverapp.contents_manager
    config = serverapp.config
    sections = [cls.__name__ for cls in type(manager).__mro__]
    if any(name in config and "allow_hidden" in config[name] for name in sections):
        return
    manager.allow_hidden = True


def _start_schedule_timer(service: MlpipeService) -> None:
    """Check for due schedules every `fire_interval` seconds, off the event loop."""
    from tornado.ioloop import IOLoop, PeriodicCallback

    def check() -> None:
        future = IOLoop.current().run_in_executor(None, service.fire_due_schedules)
        future.add_done_callback(_log_failure(service))

    PeriodicCallback(check, service.fire_interval * 1000).start()


def _own_warm_cluster(serverapp: Any, service: MlpipeService) -> None:
    """Close the warm cluster after `idle_timeout` without work, and with the server.

    A module extension has no stop hook, so the server's own `cleanup_extensions`
    (run as it shuts down, and by pytest-jupyter's fixtures) is wrapped.
    """
    from tornado.ioloop import IOLoop, PeriodicCallback

    def check() -> None:
        future = IOLoop.current().run_in_executor(None, service.close_idle_warm_cluster)
        future.add_done_callback(
            lambda f: f.exception() and service.log.error(
                "mlpipe: closing the idle warm cluster failed", exc_info=f.exception())
        )

    interval = max(1.0, min(60.0, service.idle_timeout / 4 or 60.0))
    timer = PeriodicCallback(check, interval * 1000)
    timer.start()
    cleanup = serverapp.cleanup_extensions

    async def cleanup_extensions() -> None:
        timer.stop()
        await IOLoop.current().run_in_executor(None, service.close_warm_cluster)
        await cleanup()

    serverapp.cleanup_extensions = cleanup_extensions
    service.manage_warm_cluster()


def _log_failure(service: MlpipeService) -> Any:
    def done(future: Any) -> None:
        if future.exception() is not None:
            service.log.error("mlpipe: firing schedules failed", exc_info=future.exception())

    return done


__all__ = ["MlpipeExtension", "MlpipeService", "_load_jupyter_server_extension"]
