"""At most `limit` runs of this server at once; the others wait, recorded `queued`, FIFO.

Every run the server starts (POST runs, the sidebar, POST pipelines/NAME/runs, the
fires of its own scheduler loop) comes here already recorded (queued) under its run
id. It starts at once when a slot is free and nobody waits before it, else it waits.
A thread started with the first waiter polls the runs holding slots every `poll_s`,
starts the next waiter when one ends, and renews the leases of the waiting runs (so a
reader sees them abandoned when this server stops: records.reap).

`RunSlots` knows nothing of stores or processes: it calls what it is given.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Callable

from ..request import RunRequest

LEASE_RENEW_S = 10.0


@dataclass(frozen=True)
class SlotBackend:
    """The calls RunSlots makes: start a recorded run (its id), whether a run still holds
    its slot, renew the leases of waiting runs, report a start that failed."""

    start: Callable[[RunRequest], str]
    in_progress: Callable[[RunRequest], bool]
    renew: Callable[[list[RunRequest]], None]
    failed: Callable[[RunRequest, BaseException], None]


class RunSlots:
    """The server's run slots: `submit` starts or queues, a thread starts the queued."""

    def __init__(self, limit: int, backend: SlotBackend, poll_s: float = 0.5) -> None:
        self.limit = max(1, limit)
        self.backend = backend
        self.poll_s = poll_s
        self._lock = threading.Lock()
        self._running: dict[str, RunRequest] = {}  # run id -> request, of those holding slots
        self._waiting: deque[RunRequest] = deque()
        self._thread: threading.Thread | None = None

    def submit(self, request: RunRequest) -> str:
        """Start the recorded run `request` now if a slot is free, else queue it; its id.

        A start that fails here raises (the caller answers with the error); one that
        fails later, from the queue, is reported through `backend.failed`.
        """
        assert request.run_id is not None, "RunSlots takes recorded runs (service.record)"
        with self._lock:
            self._release_finished()
            if self._waiting or len(self._running) >= self.limit:
                self._waiting.append(request)
                self._ensure_thread()
                return request.run_id
            self._running[request.run_id] = request
        try:
            return self.backend.start(request)
        except BaseException as exc:
            with self._lock:
                self._running.pop(request.run_id, None)
            self.backend.failed(request, exc)
            raise

    def waiting(self) -> list[str]:
        with self._lock:
            return [r.run_id for r in self._waiting if r.run_id]

    def running(self) -> list[str]:
        with self._lock:
            return list(self._running)

    def _release_finished(self) -> None:
        for run_id, request in list(self._running.items()):
            try:
                busy = self.backend.in_progress(request)
            except Exception:  # noqa: BLE001 - a busy database: ask again next time
                busy = True
            if not busy:
                del self._running[run_id]

    def _ensure_thread(self) -> None:
        """Under the lock: a loop thread runs while anyone waits (it clears `_thread`,
        under the lock, when it stops)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, daemon=True, name="mlpipe-slots")
            self._thread.start()

    def _loop(self) -> None:
        renewed = time.monotonic()
        while True:
            with self._lock:
                self._release_finished()
                ready = []
                while self._waiting and len(self._running) < self.limit:
                    request = self._waiting.popleft()
                    if self._still_queued(request):  # not cancelled while it waited
                        self._running[str(request.run_id)] = request
                        ready.append(request)
                idle = not self._waiting
                if idle:
                    self._thread = None  # the next waiter starts another
                waiting = list(self._waiting)
            for request in ready:
                self._start_queued(request)
            if idle:
                return  # started again by the next waiter
            if time.monotonic() - renewed >= LEASE_RENEW_S:
                self._renew(waiting)
                renewed = time.monotonic()
            time.sleep(self.poll_s)

    def _still_queued(self, request: RunRequest) -> bool:
        try:
            return self.backend.in_progress(request)
        except Exception:  # noqa: BLE001 - start it: a cancelled one then refuses to start
            return True

    def _start_queued(self, request: RunRequest) -> None:
        try:
            self.backend.start(request)
        except BaseException as exc:  # noqa: BLE001 - recorded; the queue goes on
            with self._lock:
                self._running.pop(str(request.run_id), None)
            self.backend.failed(request, exc)

    def _renew(self, waiting: list[RunRequest]) -> None:
        try:
            self.backend.renew(waiting)
        except Exception:  # noqa: BLE001 - the next renewal retries
            pass
