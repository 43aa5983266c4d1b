"""One settings tree, read from the environment (prefix ``SERIESGUARD_``).

Built once in ``main()`` (or by a test) and passed down; nothing reads the environment at
import time. Every field documents itself so ``seriesguard config`` and the README table can
be generated from here.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from pydantic import AliasChoices, Field, SecretStr
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from seriesguard.core.breaker import BreakerPolicy
from seriesguard.settings_orchestration import OrchestrationSettings

# Settings that may carry a credential can also be read from a mounted file (a Kubernetes
# Secret volume, a Docker secret): SERIESGUARD_<NAME>_FILE=/path. The variable itself wins.
SECRET_FILE_SETTINGS = (
    "auth_secret",
    "database_url",
    "broker_url",
    "redis_url",
    "alert_webhook_url",
    "alert_pagerduty_routing_key",
)


class SecretFiles(PydanticBaseSettingsSource):
    """The ``SERIESGUARD_<NAME>_FILE`` variables of :data:`SECRET_FILE_SETTINGS`."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        found: dict[str, Any] = {}
        for name in SECRET_FILE_SETTINGS:
            variable = f"SERIESGUARD_{name.upper()}_FILE"
            path = os.environ.get(variable)
            if not path:
                continue
            try:
                found[name] = Path(path).read_text(encoding="utf-8").strip()
            except OSError as exc:
                raise ValueError(
                    f"{variable} names {path}, which cannot be read: {exc.strerror}"
                ) from None
        return found


class Settings(OrchestrationSettings):
    """Everything a seriesguard process can be told."""

    model_config = SettingsConfigDict(env_prefix="SERIESGUARD_", extra="ignore")

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return init_settings, env_settings, SecretFiles(settings_cls), dotenv_settings

    home: Path = Field(
        default=Path(".seriesguard"),
        description="Data folder of the embedded backends: metadata DB, MLflow store, "
        "artifacts, training data and the local model cache.",
    )
    host: str = Field(default="127.0.0.1", description="Address the HTTP server binds.")
    port: int = Field(default=8000, ge=0, le=65535, description="Port the HTTP server binds.")
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL of the metadata DB; default sqlite:///<home>/seriesguard.db.",
    )
    broker_url: str = Field(
        default="memory://",
        description="Job transport: memory:// = in-process queue and worker pool; "
        "amqp://user:pass@host:5672/vhost = RabbitMQ through Celery.",
    )
    broker_queue: str = Field(
        default="seriesguard.training",
        description="RabbitMQ queue of training jobs (its dead letters go to <name>.dead).",
    )
    mlflow_tracking_uri: str | None = Field(
        default=None,
        validation_alias=AliasChoices("MLFLOW_TRACKING_URI", "SERIESGUARD_MLFLOW_TRACKING_URI"),
        description="MLflow tracking/registry URI; default sqlite:///<home>/mlflow.db.",
    )
    artifact_root: str | None = Field(
        default=None,
        description="Artifact root for new MLflow experiments; default <home>/artifacts.",
    )
    data_url: str | None = Field(
        default=None,
        description="Where training data is kept by reference: a folder, file:// or "
        "s3://bucket/prefix; default <home>/data.",
    )
    s3_endpoint_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("MLFLOW_S3_ENDPOINT_URL"),
        description="S3 endpoint for MinIO (the variable MLflow reads too); unset = AWS.",
    )
    experiment_name: str = Field(
        default="seriesguard", description="MLflow experiment that holds the training runs."
    )
    mlflow_log_runs: bool = Field(
        default=True,
        description="One MLflow run per version holding the job's params and metrics (what "
        "MLflow users browse). false registers each version straight from its model files, "
        "params and metrics on the version's tags: 3 fewer MLflow calls per training, for bulk "
        "training of a fleet.",
    )
    min_training_points: int = Field(
        default=10_000, ge=2, description="Fewest points a training request may carry."
    )
    max_training_points: int = Field(
        default=100_000, ge=2, description="Most points a training request may carry."
    )
    training_min_interval_seconds: float = Field(
        default=300.0,
        ge=0,
        description="At most one training job per series in this many seconds (429 otherwise).",
    )
    max_body_bytes: int = Field(
        default=32 * 1024 * 1024, ge=1024, description="Largest request body accepted (413)."
    )
    worker_concurrency: int = Field(
        default=2, ge=0, description="Training jobs run at once by the in-process worker pool."
    )
    cache_size: int = Field(
        default=100,
        ge=0,
        validation_alias=AliasChoices("CACHE_SIZE", "SERIESGUARD_CACHE_SIZE"),
        description="LRU bound for models too large to keep resident (seed: CACHE_SIZE).",
    )
    resident_max_bytes: int = Field(
        default=4096,
        ge=0,
        description="Models whose parameters fit in this many bytes stay resident, all of them.",
    )
    fallback_enabled: bool = Field(
        default=True,
        validation_alias=AliasChoices("FALLBACK_ENABLED", "SERIESGUARD_FALLBACK_ENABLED"),
        description="Answer unknown series with the z-score fallback instead of 404 (seed).",
    )
    breaker_failure_threshold: int = Field(
        default=5,
        ge=1,
        description="Failures in a row of MLflow (or of S3) after which calls to it are "
        "refused at once, as Unavailable, instead of each waiting for its timeout.",
    )
    breaker_reset_seconds: float = Field(
        default=30.0,
        gt=0,
        description="How long an open breaker refuses calls before one trial call goes through.",
    )
    catalog_poll_seconds: float = Field(
        default=2.0, gt=0, description="How often the predictor looks for catalog changes."
    )
    fleet_overview_max_age_seconds: float = Field(
        default=10.0,
        ge=0,
        description="How old the fleet overview's whole-table figures (series and versions by "
        "stage, the anomaly rate) may get before a request refreshes them, in the background "
        "(the request is answered the value it has). A refresh also waits ten times its own "
        "last duration. 0: computed on every request.",
    )
    negative_cache_seconds: float = Field(
        default=30.0,
        ge=0,
        description="How long a series with no model is not looked up in MLflow again.",
    )
    reconcile_interval_seconds: float = Field(
        default=30.0, gt=0, description="How often the scheduler looks for stuck jobs."
    )
    queued_republish_after_seconds: float = Field(
        default=120.0,
        gt=0,
        description="A job still queued after this long is published again (lost message).",
    )
    processing_lease_seconds: float = Field(
        default=60.0,
        gt=0,
        description="A processing job whose worker has not renewed its lease (heartbeat) for "
        "this long goes back to the queue: the worker died. Keep it several heartbeats long.",
    )
    heartbeat_seconds: float = Field(
        default=10.0,
        gt=0,
        description="How often a worker renews the lease of the jobs it has in hand (one "
        "thread per process for all of them); at most a third of the lease is used.",
    )
    log_level: str = Field(default="INFO", description="Root log level.")
    fast_predict: bool = Field(
        default=True,
        description="Answer a plain single predict (JSON numbers, model in memory) in front "
        "of FastAPI: a quarter to a third of the CPU per request of the route (measured). "
        "Any other request takes the route as usual. Turn off to have every predict go "
        "through the framework (its middleware, OpenTelemetry spans).",
    )
    access_log: bool = Field(
        default=False,
        description="One log line per HTTP request (uvicorn's access log, client address taken "
        "from X-Forwarded-For). Off by default: at thousands of predictions per second a log "
        "line costs more than the prediction it records.",
    )
    dashboard: bool = Field(
        default=True,
        description="Serve the operators' web dashboard at / (its files at /ui/, all shipped "
        "in the package, no token needed for them; its data comes from the API with the "
        "caller's permissions). API processes only. false: no page, the API alone.",
    )
    forwarded_allow_ips: str = Field(
        default="",
        description="Comma-separated addresses (or networks, or *) of the proxies whose "
        "X-Forwarded-For is believed for the client address in the access and audit logs. "
        "Empty: the peer address is recorded, and the header is kept only as a detail.",
    )
    log_format: Literal["auto", "json", "text"] = Field(
        default="auto",
        description="json: one JSON object per line; text: for a terminal; auto: json unless "
        "stderr is a terminal.",
    )
    auth_issuer: str | None = Field(
        default=None,
        description="Required `iss` of every bearer token (the seed's RequestAuthentication "
        "issuer). Setting it, or a key, or a JWKS URL, turns authentication on.",
    )
    auth_audiences: list[str] = Field(
        default_factory=list,
        description="Accepted `aud` values (RequestAuthentication audiences); a token must name "
        "one of them. Empty = the `aud` claim is not checked. JSON list in the environment.",
    )
    auth_jwks_uri: str | None = Field(
        default=None,
        description="JWKS URL of the identity provider (RequestAuthentication jwksUri). Keys are "
        "cached and fetched again when a token names a key id not yet seen (rotation).",
    )
    auth_public_key_file: Path | None = Field(
        default=None,
        description="PEM public key (RSA or EC) that signs tokens, for setups without a JWKS "
        "endpoint.",
    )
    auth_private_key_file: Path | None = Field(
        default=None,
        description="PEM private key matching auth_public_key_file: only `seriesguard token` "
        "reads it, to mint local tokens. Never needed by a server.",
    )
    auth_secret: SecretStr | None = Field(
        default=None,
        description="Shared HMAC secret (HS256) for the smallest setups; at least 32 bytes. "
        "Also from a file: SERIESGUARD_AUTH_SECRET_FILE.",
    )
    auth_algorithms: list[str] = Field(
        default_factory=lambda: ["RS256", "ES256"],
        description="Signature algorithms accepted from the JWKS or public key. `none` and HS* "
        "are never accepted there; HS256 is used only with auth_secret.",
    )
    auth_roles_claim: str = Field(
        default="roles",
        description="Claim holding the caller's roles (viewer, data_scientist, ml_engineer, "
        "admin): a list or a space-separated string; dotted paths reach nested claims "
        "(realm_access.roles).",
    )
    auth_leeway_seconds: float = Field(
        default=30.0, ge=0, description="Clock skew allowed on exp/nbf/iat."
    )
    auth_jwks_refresh_seconds: float = Field(
        default=300.0,
        gt=0,
        description="How long fetched JWKS keys are trusted before they are fetched again; "
        "an unknown key id triggers a fetch at most every 10 s.",
    )
    rate_limit_per_second: float = Field(
        default=1000.0,
        ge=0,
        description="Sustained requests per second allowed to one caller (its token subject), "
        "across all replicas when redis_url is set. 0 = off. Without authentication the only "
        "caller is the machine's operator on loopback, who is not limited.",
    )
    rate_limit_burst: int = Field(
        default=2000, ge=1, description="Requests a principal may send at once above the rate."
    )
    redis_url: str | None = Field(
        default=None,
        description="redis://host:6379/0: shared state of the request rate limit across "
        "replicas. Unset = each process limits on its own.",
    )
    tls_cert_file: Path | None = Field(
        default=None,
        description="PEM certificate chain: the server speaks HTTPS itself (in a cluster, the "
        "mesh's mTLS does this instead).",
    )
    tls_key_file: Path | None = Field(default=None, description="PEM private key of tls_cert_file.")
    max_predict_body_bytes: int = Field(
        default=64 * 1024,
        ge=256,
        description="Largest body of a single predict (413 beyond): a point is tens of bytes.",
    )
    stats_enabled: bool = Field(
        default=True,
        description="Count every prediction per series (the metrics endpoint, drift checks and "
        "ground truth need it). false: nothing is counted or written, for a predictor whose "
        "figures nobody reads.",
    )
    stats_flush_seconds: float = Field(
        default=10.0,
        gt=0,
        description="How often a predictor writes its per-series statistics (requests, errors, "
        "anomalies, latency sketch, input histogram; hourly buckets) to the metadata DB.",
    )
    stats_max_series: int = Field(
        default=400_000,
        ge=1,
        description="Most (series, version) pairs one predictor counts per hour; predictions "
        "beyond are served but not counted (series_stats_dropped_total), so unknown series "
        "ids cannot grow its memory.",
    )
    stats_retention_days: int = Field(
        default=14,
        ge=1,
        description="Hourly statistics, flagged predictions and ground truth older than this "
        "are deleted by the scheduler.",
    )
    drift_window_hours: int = Field(
        default=24, ge=1, le=24 * 90, description="Window of the fleet drift check (seed: 24h)."
    )
    drift_psi_threshold: float = Field(
        default=0.2,
        gt=0,
        description="Population stability index of recent inputs against the training "
        "histogram above which data drift is declared.",
    )
    drift_min_samples: int = Field(
        default=500,
        ge=1,
        description="Fewest predictions in the window before any drift verdict is given "
        "(below it the verdict is 'insufficient_data').",
    )
    drift_alpha: float = Field(
        default=0.01,
        gt=0,
        lt=1,
        description="Significance level of the anomaly-rate and precision tests.",
    )
    drift_min_rate_change: float = Field(
        default=0.2,
        ge=0,
        description="Smallest relative change of the anomaly rate against the version's "
        "training baseline that counts as concept drift (seed: 20%), on top of significance.",
    )
    drift_min_precision_drop: float = Field(
        default=0.1,
        ge=0,
        le=1,
        description="Smallest absolute fall of precision (ground truth) that counts as drift.",
    )
    metrics_dir: Path | None = Field(
        default=None,
        description="Folder where each process of a multi-process server leaves its "
        "Prometheus counters, so /metrics in any of them answers for all. Unset: a fresh "
        "folder per server start (one process needs none).",
    )
    otel_exporter_otlp_endpoint: str | None = Field(
        default=None,
        validation_alias=AliasChoices(
            "OTEL_EXPORTER_OTLP_ENDPOINT", "SERIESGUARD_OTEL_EXPORTER_OTLP_ENDPOINT"
        ),
        description="OTLP/HTTP collector (http://otel-collector:4318): traces are exported "
        "there. Unset: no tracing at all, and no cost on any request.",
    )
    otel_service_name: str | None = Field(
        default=None,
        validation_alias=AliasChoices("OTEL_SERVICE_NAME", "SERIESGUARD_OTEL_SERVICE_NAME"),
        description="service.name of the spans; default seriesguard-<process role>.",
    )
    db_pool_size: int = Field(
        default=10, ge=1, description="Connections each process keeps open to PostgreSQL."
    )
    db_max_overflow: int = Field(
        default=20, ge=0, description="Extra PostgreSQL connections allowed under bursts."
    )
    db_pool_timeout_seconds: float = Field(
        default=10.0, gt=0, description="Wait for a free DB connection before answering 503."
    )

    @property
    def auth_enabled(self) -> bool:
        """Bearer tokens are required as soon as any way to check them is configured."""
        return any(
            (self.auth_jwks_uri, self.auth_public_key_file, self.auth_secret, self.auth_issuer)
        )

    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.home.resolve() / 'seriesguard.db'}"

    def resolved_tracking_uri(self) -> str:
        return self.mlflow_tracking_uri or f"sqlite:///{self.home.resolve() / 'mlflow.db'}"

    def resolved_artifact_root(self) -> str:
        """Explicit root if set; a tracking server decides its own (proxied artifacts);
        the embedded store keeps artifacts under the home folder."""
        if self.artifact_root:
            return self.artifact_root
        if self.resolved_tracking_uri().startswith(("http://", "https://")):
            return ""
        return (self.home.resolve() / "artifacts").as_uri()

    def resolved_data_url(self) -> str:
        """Training data of each job, kept by reference (the job row holds its location)."""
        return self.data_url or str((self.home / "data").resolve())

    def heartbeat_interval(self) -> float:
        """The heartbeat period in use: at most a third of the lease, so that one or two late
        beats (a stalled process, a slow database) never cost a live worker its job."""
        return min(self.heartbeat_seconds, self.processing_lease_seconds / 3)

    @property
    def model_cache_dir(self) -> Path:
        """Local copy of every model the predictor loaded (fallback when MLflow is down)."""
        return self.home / "model-cache"

    def breaker_policy(self) -> BreakerPolicy:
        return BreakerPolicy(
            failure_threshold=self.breaker_failure_threshold,
            reset_seconds=self.breaker_reset_seconds,
        )
