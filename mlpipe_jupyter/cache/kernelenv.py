"""The environment of a `--kernel` step: its kernelspec's interpreter and package versions.

A step with `%%step train --kernel py311-torch` runs on that Jupyter
kernelspec, another venv or conda environment with its own packages, so the
versions that go into its key are that interpreter's, not this process's.
`kernel_environment` finds the kernelspec as papermill does (jupyter_client's
`KernelSpecManager`, on `JUPYTER_PATH`), and asks its interpreter, once, for
its Python version and every installed distribution (a subprocess with the
kernelspec's `env`). The answer is memoised by the interpreter's path and
mtime, and stays valid while the folders on that interpreter's `sys.path`
keep their mtimes (a pip install or upgrade changes its site-packages'), in
this process and in the store's cache folder, so a rerun costs a few stats.

Keys hold the kernelspec's name and Python version, never the interpreter's
path: two people whose kernels are the same environment share results.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from .modules import Environment
from ..errors import BadInput


PROBE_TIMEOUT_S = 30.0

#: Run by the kernel's interpreter: its version and its installed distributions.
PROBE = r"""
import json, os, sys
sys.path[:] = [p for p in sys.path if p not in ("", os.getcwd())]
from importlib.metadata import distributions, packages_distributions
tops = {k: sorted(set(v)) for k, v in packages_distributions().items()}
versions = {}
for dist in distributions():
    name = dist.metadata["Name"]
    if name and name not in versions:
        versions[name] = dist.version
stamp = []
for entry in sys.path:
    try:
        stamp.append([entry, os.stat(entry or ".").st_mtime_ns])
    except OSError:
        pass
info = sys.version_info
print(json.dumps({"python": "%d.%d.%d" % (info[0], info[1], info[2]),
                  "tops": tops, "versions": versions, "stamp": stamp}))
"""


class KernelEnvError(BadInput):
    """A `--kernel` whose kernelspec is missing here or whose interpreter cannot be asked."""


@dataclass(frozen=True)
class KernelSpecInfo:
    """Where a kernelspec's kernel runs: its interpreter and the env kernel.json adds."""

    name: str
    interpreter: str  # absolute path of argv[0]
    env: dict[str, str]
    argv: tuple[str, ...]


def find_kernelspec(name: str) -> KernelSpecInfo | None:
    """The kernelspec `name` as papermill would start it, or None when none is installed."""
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    try:
        spec = KernelSpecManager().get_kernel_spec(name)
    except (NoSuchKernel, OSError, ValueError):
        return None
    argv = tuple(str(a) for a in spec.argv or ())
    env = {str(k): str(v) for k, v in (spec.env or {}).items()}
    first = argv[0] if argv else sys.executable
    if first in ("python", "python3", "{python}") and not os.path.isabs(first):
        first = sys.executable if first == "{python}" else first
    path = env.get("PATH", os.environ.get("PATH"))
    interpreter = first if os.path.isabs(first) else shutil.which(first, path=path) or first
    return KernelSpecInfo(name, interpreter, env, argv)


def missing_kernel_line(step: str, kernel: str, where: str = "on this machine") -> str:
    """The one line for a kernelspec that is not installed where `step` needs it."""
    return (
        f"step '{step}' asks for --kernel {kernel}, but no kernelspec '{kernel}' is installed"
        f" {where}; install it (python -m ipykernel install --name {kernel}) or fix the name"
        " (jupyter kernelspec list)"
    )


_PROBES: dict[tuple[str, int], dict[str, Any]] = {}


def _stamp_holds(stamp: list[list[Any]]) -> bool:
    for entry, mtime in stamp:
        try:
            if os.stat(entry or ".").st_mtime_ns != mtime:
                return False
        except OSError:
            return False
    return True


def _memo_file(memo_dir: Path | None) -> Path | None:
    if memo_dir is None or not isinstance(memo_dir, Path):
        return None
    return memo_dir / "kernel-environments.json"


def probe(spec: KernelSpecInfo, memo_dir: Path | None = None) -> dict[str, Any]:
    """`{"python", "tops", "versions", "stamp"}` of the kernelspec's interpreter (memoised)."""
    try:
        memo = (spec.interpreter, os.stat(spec.interpreter).st_mtime_ns)
    except OSError as exc:
        raise KernelEnvError(
            f"kernelspec '{spec.name}' runs {spec.interpreter}, which is missing"
            f" ({exc.strerror}); reinstall the kernelspec"
        ) from None
    known = _PROBES.get(memo)
    if known is not None and _stamp_holds(known["stamp"]):
        return known
    memo_file = _memo_file(memo_dir)
    if known is None and memo_file is not None:
        known = _read_memo(memo_file, memo)
        if known is not None and _stamp_holds(known["stamp"]):
            _PROBES[memo] = known
            return known
    answer = _ask(spec)
    _PROBES[memo] = answer
    if memo_file is not None:
        _write_memo(memo_file, memo, answer)
    return answer


def _ask(spec: KernelSpecInfo) -> dict[str, Any]:
    env = {**os.environ, **spec.env}
    try:
        done = subprocess.run(
            [spec.interpreter, "-c", PROBE], capture_output=True, text=True, env=env,
            timeout=PROBE_TIMEOUT_S, check=False, stdin=subprocess.DEVNULL,
        )
        answer = json.loads(done.stdout.strip().splitlines()[-1]) if done.returncode == 0 else None
    except (OSError, subprocess.SubprocessError, ValueError, IndexError) as exc:
        answer, done = None, None
        detail = str(exc)
    if not isinstance(answer, dict):
        if done is not None:
            lines = (done.stderr or "").strip().splitlines()
            detail = lines[-1] if lines else f"exit status {done.returncode}"
        raise KernelEnvError(
            f"kernelspec '{spec.name}': cannot ask its interpreter {spec.interpreter} for its"
            f" packages ({detail[:200]})"
        )
    return answer


def _read_memo(path: Path, memo: tuple[str, int]) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text("utf-8"))
        entry = data[memo[0]]
        return entry["answer"] if entry["mtime"] == memo[1] else None
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _write_memo(path: Path, memo: tuple[str, int], answer: dict[str, Any]) -> None:
    try:
        data = json.loads(path.read_text("utf-8"))
        if not isinstance(data, dict):
            data = {}
    except (OSError, ValueError):
        data = {}
    data[memo[0]] = {"mtime": memo[1], "answer": answer}
    try:
        from .fs import atomic_write_json

        atomic_write_json(path, data)
    except OSError:
        pass


def kernel_environment(
    step: str, kernel: str, env: Environment, memo_dir: Path | None = None
) -> Environment:
    """`env` (this process's view of the step's imports) with the versions of `kernel`.

    The local modules stay as they are (the user's files); the packages are the
    kernel interpreter's distributions for every top-level module the step and
    setup import (`env.imports`, found here or not: a module only that
    environment has counts too), and the Python version is the kernel's.
    Raises `KernelEnvError` naming the step and the kernelspec.
    """
    spec = find_kernelspec(kernel)
    if spec is None:
        raise KernelEnvError(missing_kernel_line(step, kernel))
    try:
        answer = probe(spec, memo_dir)
    except KernelEnvError as exc:
        raise KernelEnvError(f"step '{step}': {exc}") from None
    tops: dict[str, list[str]] = answer.get("tops", {})
    versions: dict[str, str] = answer.get("versions", {})
    packages: dict[str, str] = {}
    for top in env.imports:
        for dist in tops.get(top, ()):
            if dist in versions:
                packages.setdefault(dist, versions[dist])
    return replace(env, packages=dict(sorted(packages.items())), python=str(answer["python"]))


__all__ = [
    "KernelEnvError", "KernelSpecInfo", "find_kernelspec", "kernel_environment",
    "missing_kernel_line", "probe",
]
