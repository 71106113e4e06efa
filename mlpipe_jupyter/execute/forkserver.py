"""A fork server: kernels that start with the setup's imports already loaded.

A fresh kernel is a new interpreter that imports ipykernel (about 0.5 s) and
then, in its setup cells, pandas, scikit-learn, matplotlib (1-3 s more). Paid
for every step, that dominates short steps. A `ForkServer` is one process per
kernel pool (so per worker, per notebook folder, per interpreter) that imports
ipykernel and the setup's *installed* modules once; each kernel is a child it
forks, which then becomes an ipykernel for jupyter_client's connection file.
A forked kernel has those modules in `sys.modules` and nothing else: no name
is bound in its namespace, it gets its own pid, session and process group,
the cwd and environment jupyter_client asked for, and numpy's global random
state is reseeded (Python's `random` reseeds itself after a fork), so no two
kernels share a "random" sequence. Each kernel still runs exactly one step.

Local modules (the user's `helpers.py`, an editable package: files outside
the Python installation) are never preloaded, so an edit to them is seen by
the next kernel. Kernels started on a non-default kernelspec (another
interpreter) start normally.

The protocol is one JSON line each way over the server's stdin/stdout:
`{"argv", "env", "cwd"}` -> `{"pid"}`. The server exits, killing its kernels,
when its stdin closes (the worker that started it is gone); a kernel exits
when the server is gone (ipykernel's parent poller).
"""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import subprocess
import sys
import sysconfig
import threading
import time
from typing import Any

READY_TIMEOUT_S = 60.0
LAUNCHER = ("-m", "ipykernel_launcher")


def _origin(module: str) -> str | None:
    """The file (or package folder) of `module`'s top-level package, "built-in", or None."""
    top = module.split(".")[0]
    if top in sys.builtin_module_names:
        return "built-in"
    try:
        spec = importlib.util.find_spec(top)
    except (ImportError, ValueError):
        return None
    if spec is None:
        return None
    return spec.origin or next(iter(spec.submodule_search_locations or []), None)


def stamp(modules: tuple[str, ...]) -> tuple[tuple[str, float], ...]:
    """The mtimes of the preloaded packages' files: a reinstall or upgrade changes them."""
    found = []
    for module in modules:
        origin = _origin(module)
        if origin and os.path.exists(origin):
            found.append((origin, os.stat(origin).st_mtime))
            found.extend(_records(origin, module))
    return tuple(found)


def _records(origin: str, module: str) -> list[tuple[str, float]]:
    """Its distribution's RECORD: a same-version reinstall retires the pool (issue 20)."""
    try:
        from mlpipe_jupyter.cache.ambient import record_stamps

        return record_stamps(origin, module)
    except Exception:  # noqa: BLE001 - no metadata: the files' mtimes still count
        return []


def installed(module: str) -> bool:
    """Whether `module` comes from the Python installation (not a local file)."""
    if module.split(".")[0] in sys.builtin_module_names:
        return True
    origin = _origin(module)
    if origin is None:
        return False
    if origin in (None, "built-in", "frozen"):
        return True
    roots = {sysconfig.get_paths()[k] for k in ("stdlib", "platstdlib", "purelib", "platlib")}
    path = os.path.realpath(origin)
    return any(path.startswith(os.path.realpath(root) + os.sep) for root in roots)


class ForkedKernel:
    """The `subprocess.Popen` surface jupyter_client's LocalProvisioner uses, for a forked pid.

    The kernel is the fork server's child, not ours: the server reaps it, and
    this object sees it gone when the pid no longer exists.
    """

    stdin = stdout = stderr = None

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None:
            try:
                os.kill(self.pid, 0)
            except ProcessLookupError:
                self.returncode = -signal.SIGKILL
            except PermissionError:
                pass
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.poll() is None:
            if deadline is not None and time.monotonic() > deadline:
                raise subprocess.TimeoutExpired(str(self.pid), timeout or 0)
            time.sleep(0.02)
        assert self.returncode is not None
        return self.returncode

    def send_signal(self, signum: int) -> None:
        os.kill(self.pid, signum)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)


def _watched_env(env: dict[str, str]) -> dict[str, str]:
    from mlpipe_jupyter.watch import preload_env

    return preload_env(env)


class ForkServer:
    """The worker's side: starts the server process and asks it for kernels."""

    def __init__(self, cwd: str | None, modules: tuple[str, ...] = ()) -> None:
        self.modules = tuple(m for m in modules if installed(m) and preloadable(m))
        self.stamp = stamp(self.modules)
        self._lock = threading.Lock()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "mlpipe_jupyter.execute.forkserver", json.dumps(self.modules)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, cwd=cwd if cwd and os.path.isdir(cwd)
            else None, text=True, bufsize=1,
            # the read watcher is loaded at exec, so the kernels it forks have it
            env=_watched_env({**os.environ, **thread_defaults()}),
        )
        self._ready = False

    def _wait_ready(self) -> None:
        if not self._ready:
            line = self.proc.stdout.readline() if self.proc.stdout else ""
            if line.strip() != "ready":
                raise RuntimeError(f"the kernel fork server did not start ({line.strip()!r})")
            self._ready = True

    def spawn(self, argv: list[str], env: dict[str, str] | None, cwd: str | None) -> ForkedKernel:
        """Fork a kernel running `argv` (jupyter_client's kernel command)."""
        request = {"argv": list(argv[3:]), "env": dict(env or os.environ), "cwd": cwd}
        with self._lock:
            self._wait_ready()
            assert self.proc.stdin is not None and self.proc.stdout is not None
            self.proc.stdin.write(json.dumps(request) + "\n")
            self.proc.stdin.flush()
            reply = json.loads(self.proc.stdout.readline() or "{}")
        if "pid" not in reply:
            raise RuntimeError(f"the kernel fork server failed: {reply.get('error', 'no reply')}")
        return ForkedKernel(int(reply["pid"]))

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None

    @property
    def current(self) -> bool:
        """Alive, and its preloaded packages not reinstalled since it imported them."""
        return self.alive and stamp(self.modules) == self.stamp

    def close(self) -> None:
        """Stop the server; it kills the kernels it forked."""
        try:
            if self.proc.stdin:
                self.proc.stdin.close()
        except OSError:
            pass
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        if self.proc.stdout:
            self.proc.stdout.close()


def thread_defaults() -> dict[str, str]:
    """The thread variables at this process's usable cores: Dask's nanny set them to 1 for
    the worker, and what the server preloads (numpy's BLAS) sizes its pools from them. Each
    step's kernel sets its own count before its first cell (threads.apply)."""
    from .threads import LOKY_VAR, THREAD_VARS, usable_cores

    cores = str(usable_cores())
    return {var: cores for var in (*THREAD_VARS, LOKY_VAR)}


def can_fork(argv: list[str]) -> bool:
    """Whether jupyter_client's kernel command is an ipykernel on this interpreter."""
    if len(argv) < 3 or tuple(argv[1:3]) != LAUNCHER:
        return False
    try:
        return os.path.samefile(argv[0], sys.executable)
    except OSError:
        return False


# -- the server process --------------------------------------------------------------------

_children: set[int] = set()


def _reap(_signum: int = 0, _frame: Any = None) -> None:
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        _children.discard(pid)


def _become_kernel(request: dict[str, Any], protocol: tuple[int, int]) -> None:
    """In the forked child: set up the process as a fresh kernel would be, then run it."""
    os.setsid()
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.dup2(2, 1)  # the kernel's raw prints go where the server's errors go
    for fd in protocol:
        if fd > 2:
            os.close(fd)
    cwd = request.get("cwd")
    if cwd and os.path.isdir(cwd):
        os.chdir(cwd)
        sys.path[0] = os.getcwd()  # as `python -m ipykernel_launcher` in that folder has it
    os.environ.clear()
    os.environ.update(request.get("env") or {})
    os.environ["JPY_PARENT_PID"] = str(os.getppid())
    numpy = sys.modules.get("numpy")
    if numpy is not None:
        numpy.random.seed()  # a fork copies the legacy global state; a fresh kernel's is new
    from ipykernel import kernelapp

    sys.argv = [sys.executable, *request["argv"]]
    kernelapp.IPKernelApp.launch_instance(argv=list(request["argv"]))


#: Modules that choose their behaviour at import from `IPython.get_ipython()` (a
#: notebook progress bar or renderer in a kernel, a console one elsewhere): the fork
#: server has no shell to show them, so they are left for the kernel to import.
SNIFFERS = ("tqdm.auto", "tqdm.autonotebook", "plotly")


class _KernelShell:
    """What an import-time check of `get_ipython()` sees while the server preloads:
    the shell of a Jupyter kernel (pandas, for one, sets `display.max_columns` to 20
    there and to 0, "fit the terminal", elsewhere)."""

    kernel = None
    config: dict[str, Any] = {"IPKernelApp": {}}


def preloadable(module: str) -> bool:
    return not any(module == s or module.startswith(s + ".") for s in SNIFFERS)


def _preload(modules: list[str]) -> None:
    """Import `modules` as a kernel would: `get_ipython` defined, and matplotlib's
    inline backend the default (what ipykernel sets before any cell runs)."""
    import builtins

    from .warm import warm

    backend = os.environ.get("MPLBACKEND")
    if not backend:
        os.environ["MPLBACKEND"] = "module://matplotlib_inline.backend_inline"
    builtins.get_ipython = _KernelShell  # type: ignore[attr-defined]
    try:
        warm(["mlpipe_jupyter.compile.runtime", *modules])
    finally:
        del builtins.get_ipython  # type: ignore[attr-defined]
        if not backend:
            os.environ.pop("MPLBACKEND", None)


def serve(modules: list[str]) -> None:
    os.environ["JPY_PARENT_PID"] = str(os.getpid())  # read by ipykernel at import
    import ipykernel.kernelapp  # noqa: F401 - the import is the point
    import ipykernel.ipkernel  # noqa: F401

    _preload(modules)
    signal.signal(signal.SIGCHLD, _reap)
    out = sys.stdout
    out.write("ready\n")
    out.flush()
    protocol = (sys.stdin.fileno(), out.fileno())
    for line in sys.stdin:
        try:
            request = json.loads(line)
            pid = os.fork()
        except Exception as exc:  # noqa: BLE001 - answered, the worker starts one normally
            out.write(json.dumps({"error": f"{type(exc).__name__}: {exc}"}) + "\n")
            out.flush()
            continue
        if pid == 0:
            code = 0
            try:
                _become_kernel(request, protocol)
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else 0
            except BaseException:  # noqa: BLE001
                import traceback

                traceback.print_exc()
                code = 1
            finally:
                os._exit(code)
        _children.add(pid)
        out.write(json.dumps({"pid": pid}) + "\n")
        out.flush()
    for pid in list(_children):  # the worker is gone: so are its kernels
        try:
            os.killpg(pid, signal.SIGKILL)
        except OSError:
            pass


if __name__ == "__main__":
    try:
        serve(json.loads(sys.argv[1]) if len(sys.argv) > 1 else [])
    except (BrokenPipeError, KeyboardInterrupt):  # the worker left while this one started
        os._exit(0)
