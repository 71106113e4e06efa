"""Pre-flight: before a step runs on workers mlpipe did not start, ask each what it lacks.

A `--scheduler` cluster or a `--cluster` manager's workers live in
environments this process knows nothing of: a missing package would fail a
step mid-run, a missing kernelspec would fail it at kernel start, an
unreachable store would fail it at its first load. `check_workers` asks every
worker at once (one `client.run` per worker, in parallel, with a short
timeout) whether it can

- import the top-level modules the setup and each step import (those this
  machine finds: an optional import that it lacks as well is not required;
  modules inside the notebook's folder travel with the project and are not
  asked for either; a module on this machine's PYTHONPATH is),
- find the kernelspecs the steps ask for (`--kernel`), and import with that
  kernel's interpreter those steps' modules that the same kernelspec here has
  installed (from a distribution),
- reach the store (the folder, writable; or the URL, listable),

and raises `PreflightError` with one line per missing thing, naming the
worker and the steps that need it, before anything runs. Resources are
`cluster.check_resources`'s (it already ran).

A requirement that some workers meet and others miss fails the run too: Dask
would schedule the step on any worker, and restricting it to the addresses
that passed (`workers=`) goes stale as soon as an adaptive cluster replaces a
worker. The line names the worker to fix.

The worker side (`probe_worker`) imports nothing heavy: `importlib.util.find_spec`
(no module is imported), and a subprocess of the kernel's interpreter per kernelspec.
"""

from __future__ import annotations

import json
import os
import subprocess
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import ResourceError

if TYPE_CHECKING:
    from mlpipe_jupyter.analysis.model import Step

    from .runner import RunContext

#: Seconds each worker has to answer (`MLPIPE_PREFLIGHT_TIMEOUT_S`).
TIMEOUT_S = float(os.environ.get("MLPIPE_PREFLIGHT_TIMEOUT_S", "5"))
KERNEL_PROBE_S = 4.0

#: Run by a kernelspec's interpreter on the worker: the modules (argv[1], JSON) it cannot find.
FIND = r"""
import importlib.util, json, sys
missing = []
for name in json.loads(sys.argv[1]):
    try:
        found = importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        found = False
    if not found:
        missing.append(name)
print(json.dumps(missing))
"""


class PreflightError(ResourceError):
    """Workers that lack what the steps need: one line per missing thing."""


@dataclass(frozen=True)
class Needs:
    """What the steps need of every worker."""

    modules: dict[str, list[str]] = field(default_factory=dict)  # module -> default-kernel steps
    kernels: dict[str, dict[str, list[str]]] = field(default_factory=dict)  # kernel: module: steps
    kernel_steps: dict[str, list[str]] = field(default_factory=dict)  # kernel -> steps
    store: str = ""


def needs(ctx: RunContext, steps: list[Step]) -> Needs:
    """The modules, kernelspecs and store the steps need, from the analysis (no Dask)."""
    from mlpipe_jupyter.cache.kernelenv import find_kernelspec, probe
    from mlpipe_jupyter.cache.modules import _Resolver, environment, search_path

    base = ctx.notebook.resolve().parent
    resolver = _Resolver(search_path(base))
    memo = getattr(ctx.store, "hash_dir", None) or ctx.store.cache_dir
    memo = memo if isinstance(memo, Path) else None
    modules: dict[str, list[str]] = {}
    kernels: dict[str, dict[str, list[str]]] = {}
    kernel_steps: dict[str, list[str]] = {}
    for step in steps:
        env = environment((ctx.pipeline.setup_source, step.source), base, memo)
        kernel = step.options.kernel
        if kernel:
            kernel_steps.setdefault(kernel, []).append(step.name)
            spec = find_kernelspec(kernel)  # planning found it (the key needs it)
            known = probe(spec, memo).get("tops", {}) if spec is not None else {}
            wanted = kernels.setdefault(kernel, {})
            for top in env.imports:
                if top in known:
                    wanted.setdefault(top, []).append(step.name)
            continue
        for top in env.imports:
            if _travels_or_absent(resolver, top, base):
                continue
            modules.setdefault(top, []).append(step.name)
    store = ctx.store.url if getattr(ctx.store, "remote", False) else str(ctx.store.root)
    return Needs(modules, kernels, kernel_steps, store)


def _travels_or_absent(resolver: Any, top: str, base: Path) -> bool:
    """True for a module this machine cannot find either (an optional import) or one
    inside the notebook's folder (it travels with the project, `remote.py`)."""
    spec = resolver.spec(top)
    if spec is None:
        return True
    origin = spec.origin if spec.origin not in (None, "built-in", "frozen") else None
    if origin is None:
        return False
    try:
        Path(origin).resolve().relative_to(base)
    except ValueError:
        return False
    return True


# -- on the worker ---------------------------------------------------------------------------


def _findable(name: str) -> bool:
    import importlib.util

    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def _kernel_missing(kernel: str, modules: list[str]) -> list[str] | None:
    """The modules that `kernel`'s interpreter cannot find here; None: no such kernelspec."""
    from mlpipe_jupyter.cache.kernelenv import find_kernelspec

    spec = find_kernelspec(kernel)
    if spec is None:
        return None
    if not modules:
        return []
    try:
        done = subprocess.run(
            [spec.interpreter, "-c", FIND, json.dumps(modules)], capture_output=True,
            text=True, env={**os.environ, **spec.env}, timeout=KERNEL_PROBE_S, check=False,
            stdin=subprocess.DEVNULL,
        )
        return list(json.loads(done.stdout.strip().splitlines()[-1]))
    except (OSError, subprocess.SubprocessError, ValueError, IndexError):
        return list(modules)  # the interpreter cannot even answer: it imports nothing


def _store_problem(store: str) -> str | None:
    from mlpipe_jupyter.stores import url_protocol

    try:
        if url_protocol(store) in (None, "file"):
            from mlpipe_jupyter.stores import location

            folder = Path(location(store)) if url_protocol(store) else Path(store)
            if not folder.is_dir():
                return "no such folder here"
            if not os.access(folder, os.W_OK | os.X_OK):
                return "not writable here"
            return None
        from mlpipe_jupyter.cache.store import Store

        opened = Store(store)
        next(iter(opened.fs.glob(opened.cache_dir, "*")), None)
        return None
    except Exception as exc:  # noqa: BLE001 - any failure to reach it is the answer
        lines = str(exc).strip().splitlines()
        return f"{type(exc).__name__}: {lines[0][:160] if lines else ''}"


def probe_worker(modules: list[str], kernels: dict[str, list[str]], store: str) -> dict[str, Any]:
    """What this worker lacks: `{"modules": [...], "kernels": {name: None | [...]}, "store"}`."""
    return {
        "modules": [m for m in modules if not _findable(m)],
        "kernels": {name: _kernel_missing(name, mods) for name, mods in kernels.items()},
        "store": _store_problem(store) if store else None,
    }


# -- on the orchestrator ---------------------------------------------------------------------


def _steps(names: list[str]) -> str:
    unique = list(dict.fromkeys(names))
    return f"step {unique[0]}" if len(unique) == 1 else f"steps {', '.join(unique)}"


def problems(need: Needs, answers: dict[str, Any], all_steps: list[str]) -> list[str]:
    """One line per missing thing per worker (workers in address order)."""
    lines: list[str] = []
    for worker in sorted(answers):
        answer = answers[worker]
        if isinstance(answer, str):  # no answer: the reason
            lines.append(f"worker {worker} {answer}, needed by {_steps(all_steps)}")
            continue
        for module in answer.get("modules", ()):
            lines.append(
                f"worker {worker} cannot import {module}, needed by"
                f" {_steps(need.modules.get(module, all_steps))}"
            )
        for kernel, missing in (answer.get("kernels") or {}).items():
            if missing is None:
                lines.append(
                    f"worker {worker} has no kernelspec {kernel}, needed by"
                    f" {_steps(need.kernel_steps.get(kernel, all_steps))}"
                )
                continue
            wanted = need.kernels.get(kernel, {})
            for module in missing:
                lines.append(
                    f"worker {worker} cannot import {module} in kernel {kernel}, needed by"
                    f" {_steps(wanted.get(module, all_steps))}"
                )
        if answer.get("store"):
            lines.append(
                f"worker {worker} cannot reach the store {need.store} ({answer['store']}),"
                f" needed by {_steps(all_steps)}"
            )
    return lines


def ask_workers(
    client: Any, workers: list[str], need: Needs, timeout: float = TIMEOUT_S
) -> dict[str, Any]:
    """Each worker's `probe_worker` answer, or a string saying why there is none."""
    kernels = {name: sorted(mods) for name, mods in need.kernels.items()}
    for name in need.kernel_steps:
        kernels.setdefault(name, [])
    args = (sorted(need.modules), kernels, need.store)

    def one(address: str) -> Any:
        answer = client.run(probe_worker, *args, workers=[address], on_error="return")
        return answer.get(address, "did not answer the pre-flight check")

    answers: dict[str, Any] = {}
    pool = ThreadPoolExecutor(max_workers=min(32, max(1, len(workers))),
                              thread_name_prefix="mlpipe-preflight")
    try:
        futures = {address: pool.submit(one, address) for address in workers}
        for address, future in futures.items():
            try:
                answer = future.result(timeout=timeout)
            except FutureTimeout:
                answer = f"did not answer the pre-flight check in {timeout:g} s"
            except Exception as exc:  # noqa: BLE001 - a worker gone mid-check
                answer = f"could not be asked ({type(exc).__name__}: {str(exc)[:120]})"
            if isinstance(answer, BaseException):
                text = str(answer).strip().splitlines()
                answer = (
                    f"cannot run mlpipe's pre-flight check ({type(answer).__name__}:"
                    f" {text[0][:120] if text else ''}; is mlpipe-jupyter installed there?)"
                )
            answers[address] = answer
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
    return answers


def check_kernelspecs(steps: list[Step]) -> None:
    """Every `--kernel` the steps ask for is installed here, where their keys are computed
    (a step still pending at planning would otherwise find out only once its upstream ran)."""
    from mlpipe_jupyter.cache.kernelenv import find_kernelspec, missing_kernel_line

    lines = [
        missing_kernel_line(step.name, step.options.kernel) for step in steps
        if step.options.kernel and find_kernelspec(step.options.kernel) is None
    ]
    if lines:
        raise PreflightError("\n".join(lines))


def check_workers(ctx: RunContext, steps: list[Step], client: Any) -> None:
    """Raise `PreflightError` when a worker lacks what a step needs; return when all is there."""
    need = needs(ctx, steps)
    workers = sorted(client.scheduler_info(n_workers=-1)["workers"])
    lines = problems(need, ask_workers(client, workers, need), [s.name for s in steps])
    if lines:
        raise PreflightError("\n".join(lines))


__all__ = [
    "Needs", "PreflightError", "ask_workers", "check_kernelspecs", "check_workers", "needs",
    "probe_worker",
]
