"""Server settings: one pydantic-settings class, read from the environment.

Variable names of the reference contract are kept where they exist (DATABASE_URL,
MBOX_API_TOKEN, MBOX_ARTIFACT_CONTENT_*); the defaults give a working single-machine
install (SQLite and artifacts under the data dir, local runtime).
"""

from __future__ import annotations

import functools
import ipaddress
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

API_VERSION = "v1alpha1"


class SettingsError(RuntimeError):
    """Invalid configuration; the message is one line naming the setting and the reason."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="MBOX_", extra="ignore", frozen=True, populate_by_name=True
    )

    data_dir: Path = Path(".mbox")
    # Loopback by default: a single-machine install is not exposed to the network.
    host: str = "127.0.0.1"
    port: int = Field(default=3000, ge=1, le=65535)
    database_url: str = Field(
        default="", validation_alias=AliasChoices("DATABASE_URL", "MBOX_DATABASE_URL")
    )
    api_token: str = ""
    server_version: str = "0.1.0-dev"
    max_request_body_bytes: int = Field(default=1024 * 1024, ge=1024)

    runtime: Literal["local", "kubernetes"] = "local"
    # Kubernetes runtime: the kubeconfig file and context (unset: the in-cluster service
    # account), and how many ready sandboxes each template's warm pool keeps (0: cold).
    kubeconfig: Path | None = None
    kube_context: str | None = None
    kube_warm_pool: int = Field(default=0, ge=0, le=100)
    # How often the reconciler looks even without a change notification (seconds).
    reconcile_interval: float = Field(default=1.0, gt=0, le=60)
    # Tasks: the most output kept per stream (the task row holds the first 64 KiB).
    task_output_max_bytes: int = Field(default=64 * 1024**2, ge=64 * 1024)
    task_cancel_grace_seconds: float = Field(default=2.0, gt=0, le=60)
    # Local runtime: where workspaces live (default: <data dir>/sandboxes) and the
    # per-sandbox limits it enforces with setrlimit.
    local_sandbox_dir: Path | None = None
    local_memory_bytes: int = Field(default=4 * 1024**3, ge=64 * 1024**2)
    local_max_processes: int = Field(default=1024, ge=16)
    local_max_open_files: int = Field(default=4096, ge=64)
    local_max_file_bytes: int = Field(default=8 * 1024**3, ge=1024**2)
    # Each sandbox's own disk (workspace and /tmp; a loop-mounted ext4 image, so root only)
    # when its template has no storageRequest, with one inode per that many bytes; and its
    # CPUs (cgroup quota) when the template has no cpuRequest (0: no CPU limit).
    local_workspace_bytes: int = Field(default=10 * 1024**3, ge=16 * 1024**2)
    local_workspace_bytes_per_inode: int = Field(default=16 * 1024, ge=1024, le=64 * 1024**2)
    local_cpus: float = Field(default=1.0, ge=0, le=1024)
    # Local runtime: template images, pulled and unpacked (default <data dir>/images; may
    # be shared by servers on one host), the cache's size past which the least recently
    # used images no sandbox runs are removed (0: no limit), and registries spoken to in
    # plain HTTP (host:port or host, comma-separated), the only ones allowed on loopback.
    image_dir: Path | None = None
    image_cache_bytes: int = Field(default=20 * 1024**3, ge=0)
    insecure_registries: str = ""
    # Local runtime: the values of the secrets project credentials name, one file per key
    # (<secrets dir>/<secret name>/<key>), copied read-only into sandboxes at launch. Keep
    # it private to the server (mode 0700): sandboxes never see it. Default <data dir>/secrets.
    secrets_dir: Path | None = None

    # Terminals: output kept for reattaching clients, how long a terminal with no client
    # survives (a closed laptop lid), and recordings (asciicast v2, output only).
    terminal_scrollback_bytes: int = Field(default=1024**2, ge=256 * 1024, le=64 * 1024**2)
    terminal_grace_seconds: float = Field(default=900.0, ge=0, le=7 * 86400)
    terminal_recording: bool = True
    terminal_recording_max_bytes: int = Field(default=16 * 1024**2, ge=4096)
    # Previews are served from their own origin, one per sandbox port:
    # <port>-<sandbox id>.<preview host>. Default: http://preview.localhost:<port>, which
    # browsers resolve to this machine. Behind an ingress: a wildcard DNS name and TLS.
    preview_base_url: str = ""
    preview_link_max_seconds: int = Field(default=7 * 86400, ge=60)
    # Preview relay: upstream connections (HTTP and WebSocket) one sandbox may hold at once
    # (more are refused with 503 at once: one sandbox cannot starve the others), the
    # connect timeout, and how long an upstream may stay silent between two reads before
    # the request is ended (a response that keeps streaming lives on; WebSockets have no
    # idle limit).
    preview_max_connections_per_sandbox: int = Field(default=32, ge=1, le=1024)
    preview_connect_timeout_seconds: float = Field(default=10.0, gt=0, le=300)
    preview_idle_timeout_seconds: float = Field(default=300.0, gt=0, le=86400)
    # Artifact collector: how often it runs, and how long an upload may take before its
    # unfinished blob counts as abandoned garbage.
    artifact_collect_interval: float = Field(default=60.0, gt=0, le=86400)
    artifact_upload_grace_seconds: float = Field(default=6 * 3600.0, ge=60)

    # Web surface: origins other than the console's own that may call the API with CORS
    # (comma-separated, e.g. https://ci.example.com; default none), extra Host names this
    # server answers to (besides loopback names, IP literals and the preview domain), secure
    # `__Host-` sign-in cookies behind a TLS proxy, and the console's upload size cap.
    allowed_origins: str = ""
    allowed_hosts: str = ""
    secure_cookies: bool = False
    upload_max_bytes: int = Field(default=0, ge=0)

    # Live resource use: how often the leader samples every running sandbox (CPU, memory,
    # disk, processes, network), and how long samples are kept (the longest chart window).
    metrics_interval_seconds: float = Field(default=10.0, ge=1, le=3600)
    metrics_retention_seconds: int = Field(default=3600, ge=60, le=7 * 86400)
    # E2B compatibility (docs/e2b.md): the project E2B sandboxes go to when the caller's
    # token is not scoped to exactly one (a slug or id; "": the only project there is),
    # and how long a create waits for the sandbox to run.
    e2b_project: str = ""
    e2b_start_timeout_seconds: float = Field(default=600.0, ge=1, le=3600)

    # Audit trail: events older than this many days are removed (0: kept forever), as a
    # prefix of the hash chain with a signed checkpoint; the checkpoints' HMAC key (unset:
    # a random key in <data dir>/audit-signing.key; replicas must share one, so set it).
    audit_retention_days: int = Field(default=0, ge=0, le=36500)
    audit_signing_key: str = Field(default="", repr=False)

    artifact_content_backend: Literal["postgres", "filesystem", "s3"] = "postgres"
    artifact_content_dir: Path | None = None
    # The largest retained artifact; 64 GiB at most (S3 takes 10,000 parts of 8 MiB).
    artifact_content_max_bytes: int = Field(default=8 * 1024 * 1024, ge=1, le=64 * 1024**3)
    # S3: an empty endpoint is AWS itself; empty keys use boto3's standard credential
    # chain (environment, profile, web identity, instance or task role).
    artifact_content_s3_endpoint: str = ""
    artifact_content_s3_region: str = "us-east-1"
    artifact_content_s3_bucket: str = ""
    artifact_content_s3_prefix: str = ""
    artifact_content_s3_access_key_id: str = ""
    artifact_content_s3_secret_access_key: str = Field(default="", repr=False)
    artifact_content_s3_force_path_style: bool = True

    @field_validator("api_token", "database_url", "server_version", mode="before")
    @classmethod
    def _strip(cls, value: object) -> object:
        return value.strip() if isinstance(value, str) else value

    @field_validator("artifact_content_backend", mode="before")
    @classmethod
    def _lower(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator(
        "artifact_content_s3_endpoint",
        "artifact_content_s3_region",
        "artifact_content_s3_bucket",
        "artifact_content_s3_prefix",
        "artifact_content_s3_access_key_id",
        "artifact_content_s3_secret_access_key",
        mode="before",
    )
    @classmethod
    def _strip_s3(cls, value: object) -> object:
        return value.strip() if isinstance(value, str) else value

    @model_validator(mode="after")
    def _resolve_paths(self) -> Settings:
        data_dir = self.data_dir.expanduser().resolve()
        object.__setattr__(self, "data_dir", data_dir)
        if not self.database_url:
            object.__setattr__(self, "database_url", f"sqlite:///{data_dir / 'mbox.db'}")
        if not self.database_url.startswith(("sqlite", "postgresql")):
            raise ValueError("DATABASE_URL must be a sqlite:// or postgresql:// URL")
        if self.artifact_content_dir is None:
            object.__setattr__(self, "artifact_content_dir", data_dir / "artifacts")
        if self.secrets_dir is None:
            object.__setattr__(self, "secrets_dir", data_dir / "secrets")
        if not self.preview_base_url:
            object.__setattr__(self, "preview_base_url", f"http://preview.localhost:{self.port}")
        if not self.preview_base_url.startswith(("http://", "https://")):
            raise ValueError("MBOX_PREVIEW_BASE_URL must be an http(s) URL")
        self._check_s3()
        self._check_web()
        if self.metrics_retention_seconds < 2 * self.metrics_interval_seconds:
            raise ValueError(
                "MBOX_METRICS_RETENTION_SECONDS must be at least twice "
                "MBOX_METRICS_INTERVAL_SECONDS (rates need two samples)"
            )
        return self

    def _check_web(self) -> None:
        """An open server (no token) must not listen beyond this machine; uploads default
        to the largest artifact plus room for the multipart envelope."""
        if not self.api_token and not is_loopback_address(self.host):
            raise ValueError(
                f"MBOX_API_TOKEN is required when MBOX_HOST ({self.host}) is not a loopback "
                "address: without a token anyone who can reach the server controls it"
            )
        for origin in self.allowed_origin_list:
            if not origin.startswith(("http://", "https://")) or origin.count("/") != 2:
                raise ValueError(f"MBOX_ALLOWED_ORIGINS: {origin!r} is not an origin")
        if not self.upload_max_bytes:
            object.__setattr__(self, "upload_max_bytes", self.artifact_content_max_bytes + 2**20)

    @property
    def allowed_origin_list(self) -> tuple[str, ...]:
        """Origins as browsers send them: scheme://host[:port], lower case, no slash."""
        return tuple(
            item.strip().rstrip("/").lower()
            for item in self.allowed_origins.split(",")
            if item.strip()
        )

    @property
    def allowed_host_list(self) -> tuple[str, ...]:
        return tuple(
            item.strip().lower().rstrip(".")
            for item in self.allowed_hosts.split(",")
            if item.strip()
        )

    def _check_s3(self) -> None:
        """Checked whatever the backend: S3 content stays readable after a switch away."""
        endpoint, bucket = self.artifact_content_s3_endpoint, self.artifact_content_s3_bucket
        if endpoint and not endpoint.startswith(("http://", "https://")):
            raise ValueError("MBOX_ARTIFACT_CONTENT_S3_ENDPOINT must be an http(s) URL")
        if "/" in bucket or (not bucket and self.artifact_content_backend == "s3"):
            raise ValueError("MBOX_ARTIFACT_CONTENT_S3_BUCKET is required and cannot contain '/'")
        if bool(self.artifact_content_s3_access_key_id) != bool(
            self.artifact_content_s3_secret_access_key
        ):
            raise ValueError(
                "MBOX_ARTIFACT_CONTENT_S3_ACCESS_KEY_ID and "
                "MBOX_ARTIFACT_CONTENT_S3_SECRET_ACCESS_KEY are set together or not at all"
            )

    @property
    def is_postgres(self) -> bool:
        return self.database_url.startswith("postgresql")

    @property
    def auth_required(self) -> bool:
        return bool(self.api_token)


def is_loopback_address(host: str) -> bool:
    """A name or address that only this machine can reach (127.0.0.0/8, ::1, localhost)."""
    name = host.strip().strip("[]").lower().rstrip(".")
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def load_settings(**overrides: object) -> Settings:
    """Read settings from the environment; raise SettingsError with one clear line."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        raise SettingsError(_describe(exc)) from None


def _describe(exc: ValidationError) -> str:
    error = exc.errors()[0]
    name = "/".join(str(part) for part in error["loc"]) or "settings"
    env_name = name if name.isupper() else f"MBOX_{name.upper()}"
    message = error["msg"].removeprefix("Value error, ")
    if error["loc"]:
        return f"invalid setting {env_name}: {message}"
    return f"invalid settings: {message}"


@functools.cache
def get_settings() -> Settings:
    """The process-wide settings (read once)."""
    return load_settings()
