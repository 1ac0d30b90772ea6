"""The jobs on Celery (`HAMSU_WORKER__BACKEND=celery`): the embedded worker's stages as two tasks
on two queues, `transcribe` (speech recognition; may run on GPU machines) and `analyze` (CPU).

Delivery is at least once and every task is idempotent, keyed by the conversation id:
- A task is acknowledged only when it is done (`acks_late`), one at a time per worker process
  (prefetch 1); a worker that dies mid-job leaves it unacknowledged, and the broker delivers it
  again (`reject_on_worker_lost`): RabbitMQ as soon as the connection drops, Redis after
  `HAMSU_BROKER__VISIBILITY_TIMEOUT_S`. A redelivered task takes the job over, counting the
  attempt; `pipeline.jobs.MAX_ATTEMPTS` bounds a file that kills its worker every time.
- The database says what is left to do: `transcribe` acts only on a queued conversation (or one a
  lost worker held, when redelivered), `analyze` only on one whose transcript waits for it, and
  storing a result replaces what an earlier attempt stored. A duplicate delivery finds nothing
  to do, so turns, insights and queue items are never doubled.
- SIGTERM: a worker lets its running task finish for `HAMSU_BROKER__SOFT_SHUTDOWN_S`, then hands
  it back unacknowledged and exits.
"""

from __future__ import annotations

import logging
from functools import lru_cache
from typing import Any

from celery import Celery, Task
from sqlmodel import Session, col, select

from core.settings import Settings, get_settings
from models.db import get_engine
from models.tables import Conversation, ConversationStatus
from pipeline.jobs import analyze_stage, claim, transcribe_stage

log = logging.getLogger("hamsu.tasks")

TRANSCRIBE_QUEUE = "transcribe"
ANALYZE_QUEUE = "analyze"
TRANSCRIBE_TASK = "hamsu.transcribe"
ANALYZE_TASK = "hamsu.analyze"
QUEUES = (TRANSCRIBE_QUEUE, ANALYZE_QUEUE)
# seconds before a job whose stage failed for a passing reason is tried again
RETRY_DELAY_S = 10


def make_celery(settings: Settings) -> Celery:
    app = Celery("hamsu", broker=settings.broker.url, set_as_current=False)
    app.conf.update(
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_serializer="json",
        accept_content=["json"],
        task_default_queue=TRANSCRIBE_QUEUE,
        task_routes={
            TRANSCRIBE_TASK: {"queue": TRANSCRIBE_QUEUE},
            ANALYZE_TASK: {"queue": ANALYZE_QUEUE},
        },
        broker_transport_options={"visibility_timeout": settings.broker.visibility_timeout_s},
        broker_connection_retry_on_startup=True,
        worker_soft_shutdown_timeout=settings.broker.soft_shutdown_s,
        worker_hijack_root_logger=False,
    )
    app.task(name=TRANSCRIBE_TASK, bind=True)(_transcribe)
    app.task(name=ANALYZE_TASK, bind=True)(_analyze)
    return app


@lru_cache(maxsize=1)
def celery_app() -> Celery:
    """The app of this process's settings: `hamsu worker` and the API's dispatcher."""
    return make_celery(get_settings())


def _transcribe(task: Task, conversation_id: str) -> None:
    settings = get_settings()
    redelivered = bool((task.request.delivery_info or {}).get("redelivered"))
    with Session(get_engine(settings.database_url)) as session:
        if not claim(session, conversation_id, take_over=redelivered):
            log.info("conversation %s: nothing to transcribe", conversation_id)
            return
        if transcribe_stage(session, conversation_id, settings):
            task.app.send_task(ANALYZE_TASK, args=[conversation_id])
        else:
            _retry_if_requeued(task.app, session, conversation_id)


def _analyze(task: Task, conversation_id: str) -> None:
    settings = get_settings()
    with Session(get_engine(settings.database_url)) as session:
        analyze_stage(session, conversation_id, settings)
        _retry_if_requeued(task.app, session, conversation_id)


def _retry_if_requeued(app: Celery, session: Session, conversation_id: str) -> None:
    """A stage that failed for a passing reason put the job back in the queue: send it again."""
    conversation = session.get(Conversation, conversation_id)
    if conversation is not None and conversation.status == ConversationStatus.QUEUED:
        app.send_task(TRANSCRIBE_TASK, args=[conversation_id], countdown=RETRY_DELAY_S)


class CeleryDispatch:
    """The API's side of the Celery backend, with the embedded worker's interface: it runs
    nothing, it sends each new conversation to the `transcribe` queue."""

    def __init__(self, settings: Settings, app: Celery | None = None) -> None:
        self.settings = settings
        self.app = app or make_celery(settings)

    def start(self) -> None:
        """Send what is queued (uploads stored while the broker was unreachable); a conversation
        sent twice is transcribed once."""
        with Session(get_engine(self.settings.database_url)) as session:
            queued = session.exec(
                select(Conversation.id).where(col(Conversation.status) == ConversationStatus.QUEUED)
            ).all()
        for conversation_id in queued:
            self.notify(conversation_id)

    def notify(self, conversation_id: str | None = None) -> None:
        if conversation_id is not None:
            self.app.send_task(TRANSCRIBE_TASK, args=[conversation_id])

    def stop(self, timeout: float = 30.0) -> None:
        self.app.close()


def run_worker(*, queues: tuple[str, ...] = QUEUES, concurrency: int = 1) -> None:
    """`hamsu worker`: a Celery worker on these queues, in the foreground."""
    argv: list[Any] = [
        "worker",
        f"--queues={','.join(queues)}",
        f"--concurrency={concurrency}",
        "--loglevel=INFO",
        "--without-gossip",
        "--without-mingle",
    ]
    celery_app().worker_main(argv)
