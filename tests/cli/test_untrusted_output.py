"""Attack: what a sandbox prints reaches the operator's terminal through `mbox ... -o
table` (task output, runtime messages). Escape sequences could rewrite the screen, set
the window title or write the clipboard (OSC 52), and Rich markup could forge a link.
Tables show them as inert text; JSON and YAML escape them by their own rules."""

from __future__ import annotations

import json

import yaml

from tests.cli.conftest import Cli

HOSTILE = r"printf '\033]52;c;cHduZWQ=\007[link=http://evil.example]click[/link]\033[2J\n'"


def test_a_task_output_cannot_drive_the_terminal_through_a_table(cli: Cli, sandbox) -> None:
    task = cli.json("tasks", "run", sandbox["id"], "-o", "json", "--", "sh", "-c", HOSTILE)
    assert "\x1b]52" in task["stdout"]  # the sandbox did print it
    shown = cli("tasks", "get", task["id"], "-o", "table").out
    assert "\x1b" not in shown and "\x07" not in shown
    assert "[link=http://evil.example]click[/link]" in shown  # as text, not as a link
    assert "\\x1b]52;c;cHduZWQ=" in shown  # visible for what it is

    as_json = cli("tasks", "get", task["id"], "-o", "json").out
    assert "\x1b" not in as_json and json.loads(as_json)["stdout"] == task["stdout"]
    as_yaml = cli("tasks", "get", task["id"], "-o", "yaml").out
    assert "\x1b" not in as_yaml and yaml.safe_load(as_yaml)["stdout"] == task["stdout"]


def test_list_tables_show_hostile_names_as_text(cli: Cli, project) -> None:
    escape = "evil\x1b[2J name"  # the server keeps names to one line of text
    create = ("templates", "create", "--image", "host", "--project", project["id"], "--name")
    refused = cli(*create, escape, code=1)
    assert "name cannot contain control characters" in refused.err and "\x1b" not in refused.err
    hostile = "evil [bold]name[/bold]"
    cli(*create, hostile)
    shown = cli("templates", "list", "--project", project["id"], "-o", "table").out
    assert "\x1b" not in shown and "[bold]name[/bold]" in shown
