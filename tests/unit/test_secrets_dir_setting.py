"""MBOX_SECRETS_DIR: where the local runtime finds the values project credentials name."""

from __future__ import annotations

from backend.runtime import create_runtime
from backend.settings import load_settings


def test_the_secrets_dir_defaults_under_the_data_dir(tmp_path, monkeypatch):
    monkeypatch.delenv("MBOX_SECRETS_DIR", raising=False)
    settings = load_settings(data_dir=tmp_path / "data")
    assert settings.secrets_dir == tmp_path / "data" / "secrets"
    assert create_runtime(settings).secrets_dir == settings.secrets_dir


def test_the_secrets_dir_is_set_by_its_variable(tmp_path, monkeypatch):
    monkeypatch.setenv("MBOX_SECRETS_DIR", str(tmp_path / "vault"))
    assert load_settings(data_dir=tmp_path).secrets_dir == tmp_path / "vault"
