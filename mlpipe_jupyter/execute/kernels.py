"""A pool of Jupyter kernels started ahead of time, each used for one step only.

Starting a kernel costs about a second; a step that finds one already waiting
skips that. Every kernel runs exactly one step and is then shut down, so steps
stay isolated; the pool starts a replacement in the background as soon as one
is taken. A running kernel's cwd cannot change, so pools are keyed by cwd and
kernelspec (`%%step --kernel`; None is the default, `KERNEL_NAME`).

Lives on the worker process (module-level registry, see `pool_for`), started
by `KernelPoolPlugin` when the runner registers it with the Dask client.
"""

from __future__ import annotations

import asyncio
import atexit
import logging
import os
import queue
import shutil
import signal
import tempfile
import threading
import time
from typing import Any

from .forkserver import ForkServer, can_fork, thread_defaults

log = logging.getLogger(__name__)

KERNEL_NAME = "python3"
DEFAULT_POOL_SIZE = int(os.environ.get("MLPIPE_KERNEL_POOL", "2"))
#: `MLPIPE_FORKSERVER=0` starts every kernel as a fresh interpreter (for comparison).
USE_FORKSERVER = os.environ.get("MLPIPE_FORKSERVER", "1") != "0"
READY_TIMEOUT_S = 60.0


def _tracking_manager_class() -> type:
    """An AsyncKernelManager that remembers the clients it hands out.

    nbclient creates its client with `km.client()` and, when it does not own
    the kernel, never stops that client's channels (each run would leak ~11
    fds); remembering them lets `retire` close them. The manager is async so
    that nbclient gets an async client: with a blocking one its kernel-alive
    poll never runs and a dead kernel hangs the step.
    """
    from jupyter_client import AsyncKernelManager

    class TrackingKernelManager(AsyncKernelManager):
        def client(self, **kwargs: Any) -> Any:
            kc = super().client(**kwargs)
            self.__dict__.setdefault("_mlpipe_clients", []).append(kc)
            return kc

        async def _async_launch_kernel(self, kernel_cmd: list[str], **kw: Any) -> None:
            server = self.__dict__.get("_mlpipe_forkserver")
            if server is None or not server.alive or not can_fork(kernel_cmd):
                return await super()._async_launch_kernel(kernel_cmd, **kw)
            provisioner = self.provisioner
            assert provisioner is not None
            process = server.spawn(kernel_cmd, kw.get("env"), kw.get("cwd"))
            provisioner.process, provisioner.pid, provisioner.pgid = process, process.pid, process.pid
            provisioner.cwd = kw.get("cwd") or os.getcwd()
            self._reconcile_connection_info(provisioner.connection_info)

    TrackingKernelManager.client_factory = _quick_ready_client_class()
    return TrackingKernelManager


def _quick_ready_client_class() -> type:
    """An AsyncKernelClient whose `wait_for_ready` does not idle 0.2 s.

    jupyter_client's version, after the kernel_info reply has shown that shell
    and IOPub both answer, waits for IOPub to stay quiet for 0.2 s; nbclient
    calls it once per notebook, so every step paid it. This one drains IOPub
    without waiting: the kernel was checked when the pool started it.
    """
    from queue import Empty

    from jupyter_client.asynchronous import AsyncKernelClient

    class QuickReadyKernelClient(AsyncKernelClient):
        async def _async_wait_for_ready(self, timeout: float | None = None) -> None:
            deadline = time.monotonic() + (READY_TIMEOUT_S if timeout is None else timeout)
            while True:
                self.kernel_info()
                try:
                    msg = await self.shell_channel.get_msg(timeout=1)
                except Empty:
                    msg = None
                if msg is not None and msg["msg_type"] == "kernel_info_reply":
                    try:
                        await self.iopub_channel.get_msg(timeout=0.2)
                    except Empty:
                        pass
                    else:
                        self._handle_kernel_info_reply(msg)
                        break
                if not await self._async_is_alive():
                    raise RuntimeError("Kernel died before replying to kernel_info")
                if time.monotonic() > deadline:
                    raise RuntimeError(f"Kernel didn't respond in {timeout} seconds")
            while True:  # drain what is already there, without idling
                try:
                    await self.iopub_channel.get_msg(timeout=0.005)
                except Empty:
                    break

        wait_for_ready = _async_wait_for_ready

    return QuickReadyKernelClient


def call(coro_or_value: Any) -> Any:
    """Run one of the async manager's methods to completion, from any thread.

    In a thread whose event loop is running (a Dask worker's, during plugin
    teardown) the coroutine runs to completion on a helper thread.
    """
    if not asyncio.iscoroutine(coro_or_value):
        return coro_or_value
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro_or_value)
    box: list[Any] = []
    helper = threading.Thread(target=lambda: box.append(asyncio.run(coro_or_value)))
    helper.start()
    helper.join()
    return box[0] if box else None


def warm_code(modules: tuple[str, ...] = ()) -> str:
    """Run silently in each pooled kernel once it is up.

    Imports the step runtime (the load and save cells need it) and the modules
    the notebook's setup imports; `__import__(...).warm(...)` binds no name, so
    the step's namespace stays clean.
    """
    names = ("mlpipe_jupyter.compile.runtime", *modules)
    return f"__import__('mlpipe_jupyter.execute.warm', fromlist=['warm']).warm({list(names)!r})"


async def _start(km: Any, cwd: str | None, env: dict[str, str], code: str) -> None:
    await km.start_kernel(cwd=cwd, env=env)
    kc = km.client()
    kc.start_channels()
    try:
        await kc.wait_for_ready(timeout=READY_TIMEOUT_S)
        await kc.execute(code, silent=True, store_history=False, reply=True,
                         timeout=READY_TIMEOUT_S)
    finally:
        kc.stop_channels()


def start_kernel(
    cwd: str | None,
    env: dict[str, str] | None = None,
    launching: set[Any] | None = None,
    warm: tuple[str, ...] = (),
    forkserver: ForkServer | None = None,
    kernel_name: str | None = None,
) -> Any:
    """Start one kernel (kernelspec `kernel_name`, default `KERNEL_NAME`) in `cwd` and
    wait until it answers; returns its manager.

    While it starts, its manager is in `launching` (so a closing pool can kill it).
    With `forkserver`, the kernel is forked from it (setup's modules loaded).
    """
    ipc_dir = tempfile.mkdtemp(prefix="mlpipe-kernel-")
    km = _tracking_manager_class()(
        kernel_name=kernel_name or KERNEL_NAME, transport="ipc", ip=os.path.join(ipc_dir, "ipc")
    )
    km.__dict__["_mlpipe_ipc_dir"] = ipc_dir
    if forkserver is not None:
        km.__dict__["_mlpipe_forkserver"] = forkserver
    if launching is not None:
        launching.add(km)
    kernel_env = dict(os.environ if env is None else env)
    kernel_env.update(thread_defaults())  # not the nanny's 1s; the step's own count at take
    kernel_env.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")
    from mlpipe_jupyter.watch import preload_env

    kernel_env = preload_env(kernel_env)  # the read watcher in the kernel and its children
    try:
        directory = cwd if cwd and os.path.isdir(cwd) else None
        call(_start(km, directory, kernel_env, warm_code(warm)))
    except Exception:
        retire(km)
        raise
    finally:
        if launching is not None:
            launching.discard(km)
    return km


def kill_now(km: Any) -> None:
    """SIGKILL a kernel that may still be starting (no shutdown handshake)."""
    pid = getattr(getattr(km, "provisioner", None), "pid", None)
    if pid:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass


def is_alive(km: Any) -> bool:
    try:
        return bool(call(km.is_alive()))
    except Exception:  # noqa: BLE001
        return False


def retire(km: Any) -> None:
    """Stop the client channels handed out by `km` and shut its kernel down."""
    for kc in km.__dict__.pop("_mlpipe_clients", []):
        try:
            kc.stop_channels()
        except Exception:  # noqa: BLE001 - best effort cleanup
            pass
    try:
        if km.has_kernel:
            call(km.shutdown_kernel(now=True))
    except Exception as exc:  # noqa: BLE001
        log.debug("kernel shutdown failed: %s", exc)
    ipc_dir = km.__dict__.pop("_mlpipe_ipc_dir", None)
    if ipc_dir:
        shutil.rmtree(ipc_dir, ignore_errors=True)


def retire_in_background(km: Any) -> None:
    threading.Thread(target=retire, args=(km,), daemon=True, name="mlpipe-retire").start()


class KernelPool:
    """`size` kernels kept ready in `cwd`; `take()` hands one out for one step."""

    def __init__(
        self, cwd: str | None, size: int = DEFAULT_POOL_SIZE, warm: tuple[str, ...] = (),
        kernel_name: str | None = None,
    ) -> None:
        self.cwd = cwd
        self.warm = warm
        self.kernel_name = kernel_name  # another kernelspec: never forked from this interpreter
        self.size = max(0, size)
        self._ready: queue.Queue[Any] = queue.Queue()
        self._lock = threading.Lock()
        self._starting = 0
        self._launching: set[Any] = set()
        self._closed = False
        self._forkserver: ForkServer | None = None
        self._forkserver_failed = False
        self._handed: list[Any] = []  # kernels given to steps (a closing server waits for them)
        for _ in range(self.size):
            self._start_one()

    @property
    def ready(self) -> int:
        """Kernels waiting for a step now."""
        return self._ready.qsize()

    def forkserver(self) -> ForkServer | None:
        """This pool's fork server, started on first use (None if it cannot start)."""
        with self._lock:
            if self._closed or self._forkserver_failed or not USE_FORKSERVER or self.kernel_name:
                return None
            if self._forkserver is not None and not self._forkserver.current:
                stale, self._forkserver = self._forkserver, None  # a package was upgraded
                threading.Thread(target=self._close_server_when_free, args=(stale,),
                                 daemon=True, name="mlpipe-forkserver-close").start()
            if self._forkserver is None:
                try:
                    self._forkserver = ForkServer(self.cwd, self.warm)
                except OSError as exc:
                    log.warning("mlpipe: no kernel fork server (%s); kernels start fresh", exc)
                    self._forkserver_failed = True
                    return None
            return self._forkserver

    def _new_kernel(self, launching: set[Any] | None = None) -> Any:
        server = self.forkserver()
        if server is not None:
            try:
                return start_kernel(self.cwd, launching=launching, warm=self.warm,
                                    forkserver=server, kernel_name=self.kernel_name)
            except Exception as exc:  # noqa: BLE001 - fall back to a fresh interpreter
                if self._closed:
                    raise
                log.warning("mlpipe: forked kernel failed (%s); starting one fresh", exc)
                with self._lock:
                    self._forkserver_failed = True
        return start_kernel(self.cwd, launching=launching, warm=self.warm,
                            kernel_name=self.kernel_name)

    def _start_one(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._starting += 1
        threading.Thread(target=self._fill, daemon=True, name="mlpipe-kernel-start").start()

    def _fill(self) -> None:
        try:
            km = self._new_kernel(self._launching)
        except Exception as exc:  # noqa: BLE001 - the step will start its own kernel
            if not self._closed:
                log.warning("mlpipe: could not pre-start a kernel: %s", exc)
            km = None
        with self._lock:
            self._starting -= 1
            closed = self._closed
        if km is None:
            return
        if closed:
            retire(km)
        else:
            self._ready.put(km)

    def take(self) -> Any:
        """A ready kernel (waiting for one being started), or a freshly started one."""
        deadline = time.monotonic() + READY_TIMEOUT_S
        while True:
            with self._lock:
                starting = self._starting
            try:
                km = self._ready.get(timeout=0.05 if starting else 0)
            except queue.Empty:
                if not starting or time.monotonic() > deadline:
                    if self.size:
                        self._start_one()
                    return self._hand(self._new_kernel())
                continue
            server = km.__dict__.get("_mlpipe_forkserver")
            if is_alive(km) and (server is None or server.current):
                if self.size:
                    self._start_one()
                return self._hand(km)
            retire_in_background(km)

    def _hand(self, km: Any) -> Any:
        with self._lock:
            self._handed = [k for k in self._handed if k.has_kernel] + [km]
        return km

    def _close_server_when_free(self, server: ForkServer) -> None:
        """Stop the fork server once no step still runs on a kernel forked from it."""
        deadline = time.monotonic() + 24 * 3600
        while time.monotonic() < deadline:
            with self._lock:
                busy = [k for k in self._handed if k.has_kernel and is_alive(k)]
            if not busy:
                break
            time.sleep(0.5)
        server.close()

    def close(self) -> None:
        """Shut the ready kernels down and kill the ones still starting."""
        with self._lock:
            self._closed = True
        for km in list(self._launching):
            kill_now(km)
        while True:
            try:
                retire(self._ready.get_nowait())
            except queue.Empty:
                break
        with self._lock:
            server, self._forkserver = self._forkserver, None
        if server is not None:  # a step may still run on one of its kernels: not under it
            threading.Thread(target=self._close_server_when_free, args=(server,), daemon=True,
                             name="mlpipe-forkserver-close").start()


_POOLS: dict[tuple[str | None, str | None], KernelPool] = {}
_POOLS_LOCK = threading.Lock()


def pool_for(
    cwd: str | None, size: int = DEFAULT_POOL_SIZE, warm: tuple[str, ...] = (),
    kernel_name: str | None = None,
) -> KernelPool:
    """This process's pool for (`cwd`, `kernel_name`), created (and started) on first use."""
    with _POOLS_LOCK:
        pool = _POOLS.get((cwd, kernel_name))
        if pool is None:
            pool = _POOLS[(cwd, kernel_name)] = KernelPool(cwd, size, warm, kernel_name)
        return pool


def ready_kernels() -> dict[str, int]:
    """Kernels waiting for a step, per pool folder, in this process."""
    ready: dict[str, int] = {}
    with _POOLS_LOCK:
        for (cwd, _kernel), pool in _POOLS.items():  # pools are keyed by (cwd, kernelspec)
            ready[str(cwd)] = ready.get(str(cwd), 0) + pool.ready
    return ready


def close_pool(cwd: str | None) -> None:
    """Shut down the idle kernels of the pools for `cwd` (every kernelspec), if any."""
    with _POOLS_LOCK:
        pools = [_POOLS.pop(key) for key in [k for k in _POOLS if k[0] == cwd]]
    for pool in pools:
        pool.close()


def close_pools() -> None:
    with _POOLS_LOCK:
        pools = list(_POOLS.values())
        _POOLS.clear()
    for pool in pools:
        pool.close()


atexit.register(close_pools)
