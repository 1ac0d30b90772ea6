"""The embedded worker: threads in the service process that run queued conversations.

The default (`HAMSU_WORKER__BACKEND=embedded`): a poll of the conversation table is enough and
needs no broker. At scale the same stages run in Celery workers (`pipeline.tasks`), and the API
holds a `CeleryDispatch` with this class's interface (`JobRunner`) instead.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Protocol

from sqlmodel import Session

from core.settings import Settings
from models.db import get_engine
from pipeline.jobs import claim_next, process, requeue_in_flight

log = logging.getLogger("hamsu.worker")


class JobRunner(Protocol):
    """What the API holds to get uploads processed: the embedded worker or a Celery dispatch."""

    def start(self) -> None: ...

    def notify(self, conversation_id: str | None = None) -> None: ...

    def stop(self, timeout: float = 30.0) -> None: ...


class Worker:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        engine = get_engine(self.settings.database_url)
        with Session(engine) as session:
            if requeued := requeue_in_flight(session):
                log.info("requeued %d conversations that were in flight at shutdown", requeued)
        for n in range(self.settings.worker.pool_size):
            thread = threading.Thread(target=self._loop, name=f"hamsu-worker-{n}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def notify(self, conversation_id: str | None = None) -> None:
        """Wake the pool now instead of at the next poll (a new upload arrived)."""
        self._wake.set()

    def stop(self, timeout: float = 30.0) -> None:
        self._stop.set()
        self._wake.set()
        # one deadline for all threads, not `timeout` each
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))

    def run_until_idle(self) -> int:
        """Process queued conversations in this thread until none is left (CLI and tests)."""
        done = 0
        engine = get_engine(self.settings.database_url)
        while True:
            with Session(engine) as session:
                conversation_id = claim_next(session)
                if conversation_id is None:
                    return done
                process(session, conversation_id, self.settings)
                done += 1

    def _loop(self) -> None:
        engine = get_engine(self.settings.database_url)
        while not self._stop.is_set():
            try:
                with Session(engine) as session:
                    conversation_id = claim_next(session)
                    if conversation_id is not None:
                        process(session, conversation_id, self.settings)
                        continue
            except Exception:  # keep the pool alive; the job itself records its failure
                log.exception("worker loop error")
            self._wake.wait(self.settings.worker.poll_interval_s)
            self._wake.clear()
