"""Settings: defaults that work on one machine, and one clear line for each invalid value."""

from __future__ import annotations

import subprocess
import sys

import pytest

from backend.settings import SettingsError, load_settings


def test_defaults_give_a_single_machine_install(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for name in ("DATABASE_URL", "MBOX_DATA_DIR", "MBOX_PORT", "MBOX_API_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    settings = load_settings()
    assert settings.data_dir == tmp_path / ".mbox"
    assert settings.database_url == f"sqlite:///{tmp_path / '.mbox' / 'mbox.db'}"
    assert settings.port == 3000
    assert settings.auth_required is False
    assert settings.artifact_content_backend == "postgres"
    assert settings.artifact_content_max_bytes == 8 * 1024 * 1024


def test_reference_variable_names(monkeypatch, tmp_path):
    monkeypatch.setenv("DATABASE_URL", "postgresql+psycopg://u@h/db")
    monkeypatch.setenv("MBOX_API_TOKEN", "  secret  ")
    monkeypatch.setenv("MBOX_ARTIFACT_CONTENT_BACKEND", " FILESYSTEM ")
    monkeypatch.setenv("MBOX_DATA_DIR", str(tmp_path))
    settings = load_settings()
    assert settings.is_postgres and settings.api_token == "secret"
    assert settings.artifact_content_backend == "filesystem"
    assert settings.artifact_content_dir == tmp_path / "artifacts"
    assert "secret" not in repr(settings.artifact_content_s3_secret_access_key)


def test_s3_needs_only_a_bucket(monkeypatch, tmp_path):
    """No endpoint: AWS itself; no keys: boto3's standard credential chain."""
    monkeypatch.setenv("MBOX_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("MBOX_ARTIFACT_CONTENT_BACKEND", "s3")
    monkeypatch.setenv("MBOX_ARTIFACT_CONTENT_S3_BUCKET", " artifacts ")
    monkeypatch.setenv("MBOX_ARTIFACT_CONTENT_MAX_BYTES", str(64 * 1024**3))
    settings = load_settings()
    assert settings.artifact_content_s3_bucket == "artifacts"
    assert settings.artifact_content_s3_endpoint == ""
    assert settings.artifact_content_s3_access_key_id == ""
    assert settings.artifact_content_max_bytes == 64 * 1024**3


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"MBOX_PORT": "http"}, "invalid setting MBOX_PORT: Input should be a valid integer"),
        (
            {"MBOX_PORT": "70000"},
            "invalid setting MBOX_PORT: Input should be less than or equal to 65535",
        ),
        (
            {"DATABASE_URL": "mysql://x"},
            "invalid settings: DATABASE_URL must be a sqlite:// or postgresql:// URL",
        ),
        ({"MBOX_ARTIFACT_CONTENT_BACKEND": "ftp"}, "invalid setting MBOX_ARTIFACT_CONTENT_BACKEND"),
        (
            {"MBOX_ARTIFACT_CONTENT_BACKEND": "s3"},
            "MBOX_ARTIFACT_CONTENT_S3_BUCKET is required and cannot contain '/'",
        ),
        (
            {"MBOX_ARTIFACT_CONTENT_S3_ENDPOINT": "minio:9000"},
            "MBOX_ARTIFACT_CONTENT_S3_ENDPOINT must be an http(s) URL",
        ),
        (
            {"MBOX_ARTIFACT_CONTENT_S3_BUCKET": "a/b"},
            "MBOX_ARTIFACT_CONTENT_S3_BUCKET is required and cannot contain '/'",
        ),
        (
            {"MBOX_ARTIFACT_CONTENT_S3_ACCESS_KEY_ID": "AKID"},
            "MBOX_ARTIFACT_CONTENT_S3_ACCESS_KEY_ID and MBOX_ARTIFACT_CONTENT_S3_SECRET_ACCESS_KEY"
            " are set together or not at all",
        ),
        (
            {"MBOX_ARTIFACT_CONTENT_MAX_BYTES": str(64 * 1024**3 + 1)},
            "invalid setting MBOX_ARTIFACT_CONTENT_MAX_BYTES: Input should be less than or equal",
        ),
        ({"MBOX_RUNTIME": "docker"}, "invalid setting MBOX_RUNTIME"),
    ],
)
def test_invalid_settings_name_the_setting(monkeypatch, tmp_path, env, message):
    monkeypatch.setenv("MBOX_DATA_DIR", str(tmp_path))
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError) as error:
        load_settings()
    assert message in str(error.value)
    assert "\n" not in str(error.value)


def test_server_stops_with_one_line_on_bad_settings(tmp_path):
    env = {"MBOX_PORT": "not-a-port", "MBOX_DATA_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"}
    result = subprocess.run(
        [sys.executable, "-c", "from backend.server import main; main()"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=str(__import__("pathlib").Path(__file__).parents[2]),
    )
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "mbox: invalid setting MBOX_PORT: Input should be a valid integer, "
        "unable to parse string as an integer"
    ]


async def test_the_server_lifespan_runs_the_engines(tmp_path, monkeypatch):
    """The lifespan task the console registers must start (and stop) cleanly."""
    from backend import server

    monkeypatch.setenv("MBOX_DATA_DIR", str(tmp_path))
    for cached in (server.get_settings, server.get_services):
        cached.cache_clear()
    try:
        async with server.background_engines():
            pass
    finally:
        for cached in (server.get_settings, server.get_services):
            cached.cache_clear()
