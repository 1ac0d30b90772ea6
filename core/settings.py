"""One settings object for the whole service; env vars override with `HAMSU_` and `__` nesting.

Example: `HAMSU_ASR__MODEL=/models/faster-whisper-large-v3` points transcription at a bigger model.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from core.labels import INSIGHT_KINDS


class StorageSettings(BaseModel):
    # root of everything the service writes: database, uploaded originals, model cache
    data_dir: Path = Path("var")
    # uploads larger than this are refused with 413
    max_upload_mb: int = 200


class DatabaseSettings(BaseModel):
    # SQLAlchemy URL; empty means SQLite at <data_dir>/hamsu.db
    url: str = ""


class AsrSettings(BaseModel):
    # "bundled-base" (Whisper base shipped in packages), a size name faster-whisper knows
    # ("large-v3", needs a one-time download), or a folder with a CTranslate2 model
    model: str = "bundled-base"
    # the only backend this build has; any other value fails when the settings load
    backend: Literal["faster-whisper"] = "faster-whisper"
    device: str = "cpu"
    compute_type: str = "int8"
    cpu_threads: int = 2
    beam_size: int = 1
    # drop silence before decoding (Silero VAD shipped with faster-whisper)
    vad: bool = True
    # stereo calls: which channel carries the agent (0 = left, 1 = right)
    agent_channel: int = 1
    # calls longer than this are refused (E016_audio_too_long), from the file's header before
    # decoding and again while decoding when the header is missing or wrong: decoded audio
    # takes 230 MB per channel per hour, and a few MB of compressed silence can hold hours
    max_duration_s: float = Field(default=2 * 3600, gt=0)


class EmailSettings(BaseModel):
    # senders from these domains are agents; everyone else is a customer
    company_domains: list[str] = Field(default_factory=lambda: ["hamsu.example", "example.com"])
    # body text kept per email (the newest message first, then quoted history back in time);
    # the rest is dropped and the transcript's meta says so: analysis time grows with the text
    # (1-2 s per 1,000 characters on 2 cores), so one long thread would hold the queue
    max_text_chars: int = Field(default=10_000, gt=0)
    # .eml files larger than this are refused at upload (413); attachments are never read, so
    # this only bounds the MIME parse (typical mail servers accept 25-50 MB messages)
    max_mb: int = Field(default=50, gt=0)


class TransformersSettings(BaseModel):
    # frozen and hashable: the analyzer is cached per process with these settings as a key
    model_config = ConfigDict(frozen=True)

    # a saved model folder (works offline) or a hub name (needs network or a warm HF cache)
    model: str = ""
    # per-task model override, task -> folder or hub name
    models: dict[str, str] = Field(default_factory=dict)
    device: str = "cpu"
    batch_size: int = 16
    max_length: int = 256
    # classifier models: task -> {model label: hamsu label}
    label_maps: dict[str, dict[str, str]] = Field(default_factory=dict)
    # zero-shot NLI: task -> {language: [one hypothesis per label]}
    hypotheses: dict[str, dict[str, list[str]]] = Field(default_factory=dict)

    def __hash__(self) -> int:
        # the generated hash would hash the dict fields themselves, which cannot be hashed
        return hash(self.model_dump_json())


class NlpSettings(BaseModel):
    # per-label thresholds on a sentence's calibrated probability: `hamsu classify`, and the
    # conversations of weights that come without a decision model
    thresholds: dict[str, float] = Field(default_factory=lambda: dict.fromkeys(INSIGHT_KINDS, 0.5))
    # folder with trained detector heads; empty means the weights shipped in the package
    weights_dir: str = ""
    # replace phone numbers, emails, card numbers... in stored display text and API output
    redact_pii: bool = True
    # task -> registered detector name (e.g. "hamsu.zero_shot_nli.v1"); others keep
    # hamsu.<task>.v1, the heads trained by this project
    detectors: dict[str, str] = Field(default_factory=dict)
    transformers: TransformersSettings = TransformersSettings()
    # `hamsu classify`: a line with no named speaker whose agent-voice probability reaches this
    # is taken as the agent's and raises no customer insight; above 1 turns the check off
    agent_voice_threshold: float = 0.5
    # a conversation raises a kind when the decision model's calibrated probability reaches the
    # threshold that gave this precision on the labelled conversations' dev split (0.8, 0.85,
    # 0.9 or 0.95; the README shows the recall each costs)
    decision_precision: float = 0.9
    # kind -> a threshold of your own on the conversation-level probability (wins over the above)
    decision_thresholds: dict[str, float] = Field(default_factory=dict)
    # an insight whose evidence turn has an ASR confidence (mean word probability) below this is
    # held for a person to listen to (`needs_listening`) and opens no queue item
    hold_below_confidence: float = 0.6
    # on a turn held for listening a kind is raised already at the threshold of this (looser) dev
    # precision: a held insight costs one listen, not a queue item, and an unreadable transcript
    # hides evidence a clear one would show
    listen_precision: float = 0.8


class RoutingSettings(BaseModel):
    # YAML rules file; empty means the rules shipped in the package
    rules_path: str = ""


class WorkerSettings(BaseModel):
    # embedded: threads in the API process run the jobs (the one-command default, no broker);
    # celery: the API stores uploads and enqueues, `hamsu worker` processes run them
    backend: Literal["embedded", "celery"] = "embedded"
    # in-process worker threads; the pipeline itself uses asr.cpu_threads each
    pool_size: int = 1
    # seconds between polls of the job table
    poll_interval_s: float = 0.5


class BrokerSettings(BaseModel):
    # Celery's broker (backend celery): Redis, or RabbitMQ (`amqp://guest:guest@127.0.0.1:5672//`),
    # which hands a lost worker's job to another as soon as its connection drops
    url: str = "redis://127.0.0.1:6379/0"
    # Redis only: seconds after which a job taken by a worker that never acknowledged it is
    # delivered again. Longer than the longest job, or a slow job runs twice (harmlessly: every
    # stage is idempotent, but the work is repeated)
    visibility_timeout_s: int = 3600
    # seconds a worker told to stop (SIGTERM) lets its running job finish before handing it back
    # to the broker; below the 30 s grace period of systemd, Docker and Kubernetes
    soft_shutdown_s: float = 20.0


class AuthSettings(BaseModel):
    # off only for local experiments: every request then acts as an admin
    enabled: bool = True
    # on first start with no keys, create an admin key and write it to <data_dir>/admin-key.txt
    bootstrap_admin: bool = True


class WebhookSettings(BaseModel):
    # hosts or CIDR ranges that may be targets although private (e.g. ["127.0.0.1/32"])
    allow_private: list[str] = Field(default_factory=list)
    max_attempts: int = 8
    # first retry after this many seconds, doubling each time
    backoff_base_s: float = 2.0
    backoff_max_s: float = 3600.0
    timeout_s: float = 10.0


class ServerSettings(BaseModel):
    host: str = "127.0.0.1"
    port: int = 8000
    # ingest samples/ on first start so the queues are not empty
    ingest_samples: bool = True
    samples_dir: Path = Path("samples")
    # after SIGTERM, seconds `serve` waits for requests in flight (an upload, an audio stream)
    # before closing them, then seconds its worker threads get to finish: together inside the
    # 30 s grace period of systemd, Docker and Kubernetes. A job cut off is requeued at next start
    shutdown_grace_s: float = 15.0
    worker_stop_s: float = 10.0


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HAMSU_", env_nested_delimiter="__")

    storage: StorageSettings = StorageSettings()
    database: DatabaseSettings = DatabaseSettings()
    asr: AsrSettings = AsrSettings()
    email: EmailSettings = EmailSettings()
    nlp: NlpSettings = NlpSettings()
    routing: RoutingSettings = RoutingSettings()
    auth: AuthSettings = AuthSettings()
    webhooks: WebhookSettings = WebhookSettings()
    worker: WorkerSettings = WorkerSettings()
    broker: BrokerSettings = BrokerSettings()
    server: ServerSettings = ServerSettings()

    @property
    def database_url(self) -> str:
        return self.database.url or f"sqlite:///{self.storage.data_dir / 'hamsu.db'}"


@lru_cache
def get_settings() -> Settings:
    return Settings()
