"""The command line as a program: help, usage errors, the server commands, output formats,
error reporting, shell completion, start-up imports and the generated reference."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml

from tests.cli.conftest import ROOT, Cli


def test_help_lists_every_group_and_usage_errors_exit_2(bare_cli: Cli) -> None:
    out = bare_cli("--help").out
    for name in (
        "context",
        "projects",
        "templates",
        "sandboxes",
        "sessions",
        "tasks",
        "artifacts",
        "credentials",
        "runtime",
        "audit-events",
        "cp",
        "open",
        "shell",
    ):
        assert f"\n  {name} " in out
    assert "sandbox" in bare_cli("sandbox", "-h").out  # an alias
    assert "Usage:" in bare_cli("sandboxes", "get", "--bogus", "x", code=2).err
    assert bare_cli("no-such-command", code=2).err
    assert "--output" in bare_cli("--output", "xml", "info", code=2).err
    # tasks need a command: after --, --arg, --command or --command-json
    assert "give the command" in bare_cli("tasks", "run", "sb", code=2).err
    assert "Usage:" in bare_cli(code=2).err + bare_cli(code=2).out  # no command at all
    assert "Commands:" in bare_cli("help").out
    assert "stdio or http" in bare_cli("mcp", "--transport", "carrier-pigeon", code=2).err
    assert bare_cli("--version").out.startswith("mbox ")


def test_server_commands(cli: Cli) -> None:
    assert cli.json("health")["status"] == "ok"
    info = yaml.safe_load(cli("info", "-o", "yaml").out)
    assert info["apiVersion"] == "v1alpha1" and "capabilities" in info
    assert "/v1/sandboxes" in cli.json("openapi")["paths"]
    assert cli.json("whoami")["role"] == "admin"
    assert cli.json("compat")["ok"] is True


def test_compat_requiring_a_missing_capability_exits_1(cli: Cli) -> None:
    result = cli("compat", "--require-capability", "nope", code=1)
    assert result.json()["missingCapabilities"] == ["nope"]
    assert result.err.startswith("mbox: ") and "nope" in result.err


def test_output_formats_and_global_options_anywhere(cli: Cli, project) -> None:
    listed = cli.json("projects", "list")
    assert project["id"] in [item["id"] for item in listed["items"]]
    assert cli("projects", "get", project["id"]).out.startswith('{\n  "id"')  # 2-space JSON
    as_yaml = yaml.safe_load(cli("projects", "list", "-o", "yaml").out)
    assert project["slug"] in [item["slug"] for item in as_yaml["items"]]
    table = cli("--output", "table", "projects", "list").out
    assert table.split()[:3] == ["ID", "SLUG", "NAME"] and project["slug"] in table
    record = cli("projects", "get", project["slug"], "--output=table").out
    assert any(line.split()[:2] == ["slug", project["slug"]] for line in record.splitlines())
    assert cli("projects", "get", project["slug"], env={"MBOX_OUTPUT": "yaml"}).out.startswith(
        f"id: {project['id']}"
    )


def test_not_found_exits_1_with_the_message_and_status(cli: Cli) -> None:
    result = cli("sandboxes", "get", "00000000-0000-0000-0000-000000000000", code=1)
    assert result.out == ""
    assert result.err.startswith("mbox: ") and "[HTTP 404]" in result.err
    assert "no sandbox" in cli("sandboxes", "get", "no-such-box", code=1).err


def test_unreachable_server_exits_1(bare_cli: Cli) -> None:
    result = bare_cli("--api-url", "http://127.0.0.1:9", "health", code=1)
    assert result.err.startswith("mbox: cannot reach the mbox server at http://127.0.0.1:9")


def test_shell_completion_script(bare_cli: Cli) -> None:
    script = Path(sys.executable).parent / "mbox"
    done = subprocess.run(
        [str(script), "--show-completion", "bash"], env=bare_cli.env, capture_output=True
    )
    assert done.returncode == 0
    assert b"_mbox_completion" in done.stdout and b"complete " in done.stdout


def test_completion_of_commands_and_sandbox_slugs(cli: Cli, sandbox) -> None:
    script = Path(sys.executable).parent / "mbox"

    def complete(words: str) -> list[str]:
        env = cli.env | {
            "_MBOX_COMPLETE": "complete_bash",
            "COMP_WORDS": words,
            "COMP_CWORD": str(len(words.split(" ")) - 1),
        }
        done = subprocess.run([str(script)], env=env, capture_output=True, text=True)
        return done.stdout.split()

    assert complete("mbox sandb") == ["sandboxes"]  # the hidden alias is not offered
    assert "run" in complete("mbox tasks ")
    assert sandbox["slug"] in complete("mbox tasks run ")
    assert complete(f"mbox sandboxes get {sandbox['slug'][:-1]}") == [sandbox["slug"]]


def test_start_up_imports_only_the_command_tree(bare_cli: Cli) -> None:
    """`mbox --help` stays fast: no SDK, HTTP client, Rich or YAML until a command runs."""
    probe = (
        "import sys, mbox.cli\n"
        "heavy = {'httpx', 'rich', 'yaml', 'websockets', 'mbox._sync.client', 'mbox.models'}\n"
        "print(sorted(heavy & set(sys.modules)))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], env=bare_cli.env, capture_output=True, text=True
    )
    assert done.stdout.strip() == "[]", done.stderr


def test_docs_are_generated_from_the_command_tree() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "generate_cli_docs.py"), "--check"],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    text = (ROOT / "docs" / "cli.md").read_text()
    assert "#### `mbox tasks run`" in text and "`--require-success`" in text
    assert "## Exit codes" in text and "`mbox sandbox`" in text
