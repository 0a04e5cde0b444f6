"""Contexts: the file (0600, tokens by env-var name), the commands, and precedence of
flag over environment over context."""

from __future__ import annotations

import json
import stat

from tests.cli.conftest import Cli


def test_set_use_list_current_check_remove(bare_cli: Cli, live) -> None:
    env = {"CLI_TEST_TOKEN": live.token}
    added = bare_cli.json(
        "context",
        "set",
        "dev",
        "--api-url",
        live.url + "/",
        "--token-env",
        "CLI_TEST_TOKEN",
        "--audit-actor",
        "ci",
        env=env,
    )
    assert added == {
        "name": "dev",
        "current": True,
        "apiUrl": live.url,
        "hasToken": True,
        "tokenEnv": "CLI_TEST_TOKEN",
        "auditActor": "ci",
        "auditSource": "",
    }
    bare_cli("contexts", "set", "other", "--api-url", "http://127.0.0.1:9", "--token", "t0k")

    path = bare_cli.home / ".mbox" / "config.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    document = json.loads(path.read_text())
    assert document["currentContext"] == "dev"
    assert document["contexts"]["dev"] == {
        "apiUrl": live.url,
        "tokenEnv": "CLI_TEST_TOKEN",
        "auditActor": "ci",
    }
    assert live.token not in path.read_text()

    listed = bare_cli("context", "list", env=env)
    assert "t0k" not in listed.out and live.token not in listed.out
    assert [(c["name"], c["current"], c["hasToken"]) for c in listed.json()["items"]] == [
        ("dev", True, True),
        ("other", False, True),
    ]
    table = bare_cli("context", "list", "-o", "table").out
    assert table.split()[:3] == ["NAME", "CURRENT", "API"]

    # the current context is used with no other configuration
    assert bare_cli.json("whoami", env=env)["role"] == "admin"
    checked = bare_cli.json("context", "check", env=env)
    assert checked["ok"] is True and checked["apiVersion"] == "v1alpha1"
    assert "mbox: cannot reach" in bare_cli("context", "check", "other", code=1).err

    assert bare_cli.json("context", "use", "other")["current"] is True
    assert bare_cli.json("context", "current")["name"] == "other"
    assert bare_cli("health", code=1).err.startswith("mbox: cannot reach")
    assert bare_cli.json("--context", "dev", "health", env=env)["status"] == "ok"

    assert bare_cli("context", "remove", "other").out == "deleted\n"
    assert bare_cli.json("context", "current")["name"] == "dev"  # falls back
    assert bare_cli("context", "delete", "dev").out == "deleted\n"
    assert "no current context" in bare_cli("context", "current", code=1).err
    assert "no context named" in bare_cli("context", "use", "gone", code=1).err
    assert bare_cli(
        "context", "set", "x", "--api-url", "u", "--token", "a", "--token-env", "B", code=2
    ).err


def test_precedence_flag_over_environment_over_context(bare_cli: Cli, live) -> None:
    bare_cli("context", "set", "broken", "--api-url", "http://127.0.0.1:9", "--token", "bad")
    env = {"MBOX_API_URL": live.url, "MBOX_TOKEN": live.token}
    # environment over context
    assert bare_cli.json("whoami", env=env)["role"] == "admin"
    # flag over environment: the URL, then the token
    assert (
        "cannot reach" in bare_cli("--api-url", "http://127.0.0.1:9", "health", env=env, code=1).err
    )
    refused = bare_cli("whoami", "--token", "wrong-token", env=env, code=1)
    assert "[HTTP 401]" in refused.err
    # a context named by flag or MBOX_CONTEXT gives what the environment does not
    bare_cli("context", "set", "good", "--api-url", live.url, "--token-env", "T")
    assert bare_cli.json("whoami", "--context", "good", env={"T": live.token})["role"] == "admin"
    assert bare_cli.json("whoami", env={"T": live.token, "MBOX_CONTEXT": "good"})["role"] == (
        "admin"
    )
    # an explicit config file
    other = bare_cli.home / "elsewhere.json"
    bare_cli("--config", str(other), "context", "set", "solo", "--api-url", live.url)
    assert json.loads(other.read_text())["currentContext"] == "solo"
