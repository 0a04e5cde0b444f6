"""Sandbox page, Code tab: this sandbox from programs, as ready-to-copy snippets for curl,
the `mbox` CLI and the Python SDK (run a task, read the file it wrote, open a terminal),
filled with the sandbox's id and this server's address.

A snippet names the token only as `$MBOX_TOKEN` (the environment variable the CLI and SDK
read): no token is ever put in one (the console's sign-in is not a token to hand out).
tests/cli/test_code_snippets.py runs the CLI, curl and Python snippets against a live
server, so they stay true to the CLI's commands and the SDK's methods."""

from __future__ import annotations

import dataclasses
import json
import shlex
from typing import ClassVar

import reflex as rx

from state.sandbox import SandboxState, SandboxTab
from state.sandbox_terminal import copy_to_clipboard

# What each snippet does: a task writes a file and prints it, then the file is read.
SCRIPT = "echo hello from mbox > hello.txt && cat hello.txt"
TOKEN_NOTE = "# MBOX_TOKEN holds an API token (make one on the API tokens page)."


@dataclasses.dataclass
class Snippet:
    key: str  # curl | cli | python
    label: str
    text: str


def terminal_url(server: str, sandbox_id: str) -> str:
    """The terminal WebSocket: ws:// for http://, wss:// for https://."""
    return f"{server.replace('http', 'ws', 1)}/v1/sandboxes/{sandbox_id}/terminal?shell=login"


def curl_snippet(server: str, sandbox_id: str) -> str:
    body = json.dumps({"command": ["sh", "-c", SCRIPT], "timeoutSeconds": 60})
    base = f"$MBOX_API_URL/v1/sandboxes/{sandbox_id}"
    return "\n".join(
        [
            TOKEN_NOTE,
            f"export MBOX_API_URL={shlex.quote(server)}",
            "",
            "# Run a task and wait for it to finish (up to 60 s):",
            f'curl -sS -X POST "{base}/tasks?wait=60" \\',
            '  -H "Authorization: Bearer $MBOX_TOKEN" -H "Content-Type: application/json" \\',
            f"  -d {shlex.quote(body)}",
            "",
            "# Read the file it wrote:",
            f'curl -sS "{base}/files/content?path=hello.txt" \\',
            '  -H "Authorization: Bearer $MBOX_TOKEN"',
            "",
            "# A terminal is a WebSocket (keystrokes in, output out), e.g. with websocat:",
            f'# websocat -H "Authorization: Bearer $MBOX_TOKEN" '
            f"{shlex.quote(terminal_url(server, sandbox_id))}",
        ]
    )


def cli_snippet(server: str, sandbox_id: str) -> str:
    return "\n".join(
        [
            TOKEN_NOTE,
            f"export MBOX_API_URL={shlex.quote(server)}",
            "",
            "# Run a task (its output streams here):",
            f"mbox tasks run {sandbox_id} -- sh -c {shlex.quote(SCRIPT)}",
            "",
            "# Read the file it wrote:",
            f"mbox cp {sandbox_id}:hello.txt -",
            "",
            "# Open a terminal (Ctrl-] detaches; the shell keeps running):",
            f"# mbox shell {sandbox_id}",
        ]
    )


def python_snippet(server: str, sandbox_id: str) -> str:
    return "\n".join(
        [
            "import os",
            "",
            "from mbox import Mbox",
            "",
            "# MBOX_TOKEN holds an API token (make one on the API tokens page).",
            f'mbox = Mbox(api_url={json.dumps(server)}, token=os.environ["MBOX_TOKEN"])',
            f"sb = mbox.sandboxes.get({json.dumps(sandbox_id)})",
            "",
            "# Run a task (a string runs in sh -c), then read the file it wrote:",
            f"task = sb.tasks.run({json.dumps(SCRIPT)})",
            'print(task.status, task.stdout, end="")',
            'print(sb.files.read_text("hello.txt"), end="")',
            "",
            "# A terminal: send keys, read what the shell prints:",
            "with sb.terminal.attach() as terminal:",
            '    terminal.send("echo $((6 * 7))\\n")',
            '    print(terminal.read_until("42", timeout=10).decode(errors="replace"))',
        ]
    )


def code_snippets(server: str, sandbox_id: str) -> list[Snippet]:
    """The snippets for the sandbox `sandbox_id` on the server at `server` (its origin)."""
    if not sandbox_id:
        return []
    return [
        Snippet("cli", "CLI", cli_snippet(server, sandbox_id)),
        Snippet("python", "Python SDK", python_snippet(server, sandbox_id)),
        Snippet("curl", "curl", curl_snippet(server, sandbox_id)),
    ]


class CodeTab(SandboxTab, SandboxState):
    TAB: ClassVar[str] = "code"
    shown: str = "cli"  # the snippet shown

    @rx.var
    def snippets(self) -> list[Snippet]:
        return code_snippets(self.router.url.origin, self.view.id)

    @rx.var
    def snippet(self) -> str:
        found = [item.text for item in self.snippets if item.key == self.shown]
        return found[0] if found else ""

    @rx.event
    def show_snippet(self, key: str | list[str]):
        self.shown = key if isinstance(key, str) and key in ("cli", "python", "curl") else "cli"

    @rx.event
    def copy_snippet(self):
        self.notice = self.error = ""
        return copy_to_clipboard(self.snippet, type(self).copied_snippet)

    @rx.event
    def copied_snippet(self, done: bool):
        if done:
            self.notice = "Copied. Set MBOX_TOKEN to an API token before running it."
        else:
            self.error = "The browser did not let the console write to the clipboard: select "
            self.error += "the text and copy it instead."
