"""One typed settings object: where data, models and the rulebook live.

Priority (pydantic-settings): initialiser arguments > ``WINDOWQA_*`` environment variables >
``windowqa.toml`` in the working directory > defaults. Business rules live in the rulebook,
not here.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict, TomlConfigSettingsSource


def _default_data_dir() -> Path:
    return Path.home() / ".local" / "share" / "windowqa"


class Settings(BaseSettings):
    """Site settings for windowqa."""

    model_config = SettingsConfigDict(env_prefix="WINDOWQA_", toml_file="windowqa.toml", extra="ignore")

    data_dir: Path = Field(default_factory=_default_data_dir)
    database_url: str | None = None  # default: SQLite file in data_dir
    database_busy_timeout_s: float = 30.0  # SQLite: how long a write waits for another program's lock
    import_earliest_date: date = date(2000, 1, 1)  # ratings/queue rows dated before are rejected
    import_days_ahead: int = 366  # ... and rows dated more than this many days after today
    import_max_field_chars: int = 20_000  # ... and rows with a longer field (a comment)
    rulebook_path: Path | None = None  # default: the shipped rulebook
    calendar_path: Path | None = None  # site calendar TOML over the national working days (default: none)
    # Salts the hash that queue data keep instead of a citizen's ID (repeat visits, 八.3/八.4): keep it
    # secret and never change it (another salt no longer recognises a returning citizen). None: IDs are dropped.
    citizen_ref_salt: SecretStr | None = None
    whisper_model_dir: Path | None = None  # default: data_dir/models/whisper-base, assembled from PyPI
    archive_dir: Path | None = None  # default: data_dir/archive (audio stays on disk)
    face_engine: str = "dlib"  # "dlib" (offline default) or "insightface"
    insightface_model_dir: Path | None = None  # a site-supplied pack folder, e.g. buffalo_l
    keep_enrolment_photos: bool = False  # face data is sensitive: embeddings only by default
    cpu_threads: int = 2
    dashboard_session_minutes: int = 30  # a dashboard login expires after this long without a request
    dashboard_session_max_hours: int = 12  # ... and this long after logging in, whatever happens
    dashboard_pii_roles: list[str] = ["inspector"]  # roles that see citizens' ID/phone numbers and hear recordings
    dashboard_staff_hear_own_audio: bool = False  # staff may play the clip of their own flags (off: only the pii roles hear recordings)
    dashboard_audio_margin_s: float = 5.0  # a reviewer hears the evidence and this many seconds either side, never the whole recording
    audio_retention_days: int = Field(180, ge=1)  # the retention job deletes older audio, except under open or appealed flags
    stuck_after_hours: float = Field(6.0, gt=0)  # the consistency job lists recordings pending longer than this
    broker_url: str = "redis://127.0.0.1:6379/0"  # Celery broker of `windowqa worker` / `windowqa beat` (not used by in-process ingest)
    worker_concurrency: int = Field(1, ge=1)  # worker processes per `windowqa worker` (each loads its own models)
    task_max_retries: int = Field(3, ge=0)  # a task failing on an outside cause is retried this often, then given up
    # A task taken by a worker machine that died (not just one worker process) is delivered again after
    # this long; longer than the longest recording's ingest (a second delivery of a running one stores nothing twice).
    task_visibility_timeout_s: int = Field(3600, ge=60)
    # Live alerts (`windowqa capture --publish`): an optional webhook (企业微信/钉钉 robot URL) gets a text message per
    # alert, redacted; each POST waits at most the timeout and is tried this many times, never holding up the ingest.
    alert_webhook_url: str | None = None
    alert_webhook_timeout_s: float = Field(5.0, gt=0)
    alert_webhook_retries: int = Field(3, ge=1)
    dashboard_alert_refresh_s: int = Field(10, ge=2)  # the inspector's alert badge and list refresh this often
    dashboard_alert_hours: int = Field(24, ge=1)  # ... and show the alerts of this many hours back
    # Thresholds of the voice checks over their defaults (windowqa.speech.voices.voice_options), e.g.
    # {"roles": {"stretch_margin": 0.2}, "serving": {"min_margin": 0.15, "max_embed_s": 3.2}, "change": {...}};
    # the ones used are stored with each recording (pipeline_options["voice"]).
    voice_options: dict[str, dict[str, float]] = {}
    timezone: str = "Asia/Shanghai"  # the hall's local time: Celery beat's clock for job_schedule
    # When Celery beat runs each scheduled job, local time "HH:MM" (cron users write their own crontab).
    job_schedule: dict[str, str] = {"overdue-followups": "07:30", "attendance-day": "23:30", "retention": "02:30", "consistency": "03:30",
                                   "month-totals": "01:30"}

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls))

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'windowqa.db'}"

    @property
    def resolved_whisper_model_dir(self) -> Path:
        return self.whisper_model_dir or self.data_dir / "models" / "whisper-base"

    @property
    def resolved_archive_dir(self) -> Path:
        return self.archive_dir or self.data_dir / "archive"
