"""The template dialog's text fields: what they turn into, and the words for what is wrong."""

from __future__ import annotations

import pytest

from backend.errors import InvalidInput
from state.template_form import (
    TemplateForm,
    entrypoints,
    launch_fields,
    parse_command,
    parse_env,
    parse_ports,
    parse_secret_refs,
    size_preset,
)


def test_ports_are_name_port_pairs_and_a_bare_port_gets_a_name():
    assert parse_ports("web:3000, 8080,\n") == [
        {"name": "web", "port": 3000},
        {"name": "port-8080", "port": 8080},
    ]
    assert parse_ports("  ") == []
    with pytest.raises(InvalidInput, match='"web:abc" is not name:port'):
        parse_ports("web:abc")


def test_commands_are_shell_quoted_or_json():
    assert parse_command("sh -c 'echo hi && sleep 1'") == ["sh", "-c", "echo hi && sleep 1"]
    assert parse_command('["python", "-m", "http.server"]') == ["python", "-m", "http.server"]
    assert parse_command("") == []
    with pytest.raises(InvalidInput, match="JSON array must hold only strings"):
        parse_command("[1, 2]")
    with pytest.raises(InvalidInput, match="Startup command"):
        parse_command("sh -c 'unterminated")


def test_env_lines_and_secret_refs():
    assert parse_env("A=1\n# note\n\nB=x=y") == {"A": "1", "B": "x=y"}
    with pytest.raises(InvalidInput, match='"JUSTNAME" is not KEY=VALUE'):
        parse_env("JUSTNAME")
    assert parse_secret_refs("git-token:token, npmrc") == [
        {"name": "git-token", "key": "token"},
        {"name": "npmrc"},
    ]


def test_size_presets_and_entrypoints():
    assert size_preset("500m", "1Gi") == "Medium"
    assert size_preset("500m", "3Gi") == "Custom"
    assert entrypoints([{"name": "web", "port": 3000}]) == "Terminal, web :3000"
    assert entrypoints([]) == "Terminal"


def test_lifecycle_seconds_must_be_positive_whole_numbers():
    assert launch_fields(TemplateForm(ttl="60", idle=""))["lifecyclePolicy"] == {"ttlSeconds": 60}
    with pytest.raises(InvalidInput, match="Idle timeout must be a whole number"):
        launch_fields(TemplateForm(idle="-5"))
