"""GPUs pinned per step: each `--gpu k` step's kernel sees only its own devices.

A worker that advertises `GPU=k` (`dask worker --resources GPU=4`) may run
several GPU steps at once; Dask only counts the resource, it does not say which
device a task gets. `Devices` does, on the worker: its devices are the labels
in the worker's own `CUDA_VISIBLE_DEVICES` when it has some (the embedded GPU
workers are started with theirs), else `0..k-1`. A step asking for whole GPUs
takes that many free devices; a step asking for a share (`--gpu 0.5`) takes
room on one device that has it. Devices are released when the step ends, and
two steps never get the same device unless both asked for a share of it.
`plugin.GpuPlugin` (a Dask worker plugin, registered with the kernel pools)
sets the worker's `Devices` up; `devices_for` builds them on first use where it
is not registered (a cluster an older mlpipe connected to).
"""

from __future__ import annotations

import contextlib
import math
import os
import threading
from collections.abc import Iterator
from typing import Any
from ..errors import MlpipeError


EPS = 1e-9


class NoDeviceFree(MlpipeError, RuntimeError):
    """More GPU asked of this worker than it has free (Dask should never let this happen)."""


class Devices:
    """The devices of one worker and what each has left (1.0 = the whole device)."""

    def __init__(self, labels: list[str]) -> None:
        self.labels = list(labels)
        self.free = {label: 1.0 for label in self.labels}
        self._lock = threading.Lock()

    def acquire(self, amount: float) -> list[tuple[str, float]]:
        """Take `amount` GPUs: whole free devices, or a share of one. [(label, taken)]"""
        with self._lock:
            if amount >= 1:
                need = math.ceil(amount - EPS)
                whole = [d for d in self.labels if self.free[d] >= 1 - EPS]
                if len(whole) < need:
                    raise NoDeviceFree(f"{need} free GPU(s) asked, {len(whole)} free")
                taken = [(d, 1.0) for d in whole[:need]]
            else:
                # a share: the fullest device that still has room (keeps whole ones free)
                fits = [d for d in self.labels if self.free[d] >= amount - EPS]
                if not fits:
                    raise NoDeviceFree(f"a {amount:g} share of a GPU asked, none has room")
                device = min(fits, key=lambda d: self.free[d])
                taken = [(device, amount)]
            for device, share in taken:
                self.free[device] -= share
            return taken

    def release(self, taken: list[tuple[str, float]]) -> None:
        with self._lock:
            for device, share in taken:
                self.free[device] = min(1.0, self.free[device] + share)


def worker_labels(total_gpus: float, visible: str | None) -> list[str]:
    """The device labels of a worker advertising `total_gpus`."""
    count = max(0, math.ceil(total_gpus - EPS))
    ids = [x.strip() for x in (visible or "").split(",") if x.strip()]
    if ids and not ids[0].startswith("-") and len(ids) >= count:
        return ids[:count]
    return [str(i) for i in range(count)]


_DEVICES: dict[int, Devices] = {}  # id(worker) -> its devices
_LOCK = threading.Lock()


def devices_for(worker: Any) -> Devices:
    """This worker's `Devices` (made from its `GPU` resource on first use)."""
    with _LOCK:
        found = _DEVICES.get(id(worker))
        if found is None:
            state = getattr(worker, "state", None)
            total = dict(getattr(state, "total_resources", None) or {})
            found = Devices(worker_labels(float(total.get("GPU", 0)),
                                          os.environ.get("CUDA_VISIBLE_DEVICES")))
            _DEVICES[id(worker)] = found
        return found


@contextlib.contextmanager
def pinned(worker: Any, amount: float | None) -> Iterator[str | None]:
    """While the block runs, the step holds `amount` GPUs of `worker`; yields their
    `CUDA_VISIBLE_DEVICES` value (None when no GPU was asked or there is no worker)."""
    if not amount or worker is None:
        yield None
        return
    devices = devices_for(worker)
    taken = devices.acquire(float(amount))
    try:
        yield ",".join(device for device, _ in taken)
    finally:
        devices.release(taken)


def forget(worker: Any) -> None:
    with _LOCK:
        _DEVICES.pop(id(worker), None)
