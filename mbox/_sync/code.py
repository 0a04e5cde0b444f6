# Generated from mbox/_async by scripts/generate_sync_client.py: do not edit.
"""Code run in a sandbox's Jupyter kernels (the `code-interpreter` template has them):
`sb.code.run("1 + 1").text == "2"`. Variables live on between runs of one context; a
context of its own keeps a kernel apart (`create_context`)."""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from mbox import models

if TYPE_CHECKING:
    from mbox._sync.client import Mbox

DEFAULT_TIMEOUT = 300  # seconds a run may take unless told (the server's default too)
MARGIN = 30.0  # seconds the HTTP request waits past the run's own limit


class Execution(models.CodeExecution):
    """A run's results (`text`: the cell's value), its output and its error (None when
    it ran through)."""

    @property
    def text(self) -> str | None:
        return next((result.text for result in self.results if result.is_main_result), None)

    @property
    def logs(self) -> str:
        """stdout and stderr as one text, in the order each came."""
        return "".join(self.stdout) + "".join(self.stderr)


class Code:
    def __init__(self, client: Mbox) -> None:
        self._client = client
        self._http = client.transport

    def run(
        self,
        sandbox_id: str,
        code: str,
        *,
        context: str | models.CodeContext | None = None,
        language: str | None = None,
        envs: Mapping[str, str] | None = None,
        timeout: int | None = None,
        on_stdout: Callable[[str], Any] | None = None,
        on_stderr: Callable[[str], Any] | None = None,
        on_result: Callable[[models.CodeResult], Any] | None = None,
    ) -> Execution:
        """Run `code` in the context (the sandbox's default one if None) and return what
        it gave once it ends; output reaches the `on_*` callbacks as it comes. Past
        `timeout` seconds (default 300) the kernel is interrupted (a KeyboardInterrupt
        error). An error in the code is `execution.error`, not an exception."""
        payload = {
            "code": code,
            "contextId": context.id if isinstance(context, models.CodeContext) else context,
            "language": language,
            "envVars": dict(envs) if envs is not None else None,
            "timeoutSeconds": timeout,
        }
        execution = Execution()
        with self._http.stream(
            "POST",
            f"/v1/sandboxes/{sandbox_id}/code/run",
            json={name: value for name, value in payload.items() if value is not None},
            headers={"Accept": "application/x-ndjson"},
            timeout=(timeout or DEFAULT_TIMEOUT) + MARGIN,
        ) as response:
            for line in response.iter_lines():
                if line.strip():
                    _fold(execution, json.loads(line), on_stdout, on_stderr, on_result)
        return execution

    def contexts(self, sandbox_id: str) -> list[models.CodeContext]:
        body = self._http.json("GET", f"/v1/sandboxes/{sandbox_id}/code/contexts")
        return [models.CodeContext.from_json(item) for item in body.get("items", [])]

    def create_context(
        self, sandbox_id: str, *, cwd: str | None = None, language: str | None = None
    ) -> models.CodeContext:
        """A kernel of its own, started in `cwd` (the sandbox user's home by default)."""
        payload = {name: value for name, value in (("cwd", cwd), ("language", language)) if value}
        body = self._http.json("POST", f"/v1/sandboxes/{sandbox_id}/code/contexts", json=payload)
        return models.CodeContext.from_json(body)

    def remove_context(self, sandbox_id: str, context: str | models.CodeContext) -> None:
        """The context's kernel ends."""
        self._http.json("DELETE", _context_path(sandbox_id, context))

    def restart_context(self, sandbox_id: str, context: str | models.CodeContext) -> None:
        """The context's kernel starts afresh: its variables are gone."""
        self._http.json("POST", _context_path(sandbox_id, context) + "/restart")


def _context_path(sandbox_id: str, context: str | models.CodeContext) -> str:
    context_id = context.id if isinstance(context, models.CodeContext) else context
    return f"/v1/sandboxes/{sandbox_id}/code/contexts/{urllib.parse.quote(context_id, safe='')}"


def _fold(
    execution: Execution,
    event: dict[str, Any],
    on_stdout: Callable[[str], Any] | None,
    on_stderr: Callable[[str], Any] | None,
    on_result: Callable[[models.CodeResult], Any] | None,
) -> None:
    """One streamed event into the execution, and to its callback."""
    kind = event.get("type")
    if kind in ("stdout", "stderr"):
        getattr(execution, kind).append(event.get("text", ""))
        callback = on_stdout if kind == "stdout" else on_stderr
        if callback is not None:
            callback(event.get("text", ""))
    elif kind == "result":
        result = models.CodeResult.from_json(event)
        execution.results.append(result)
        if on_result is not None:
            on_result(result)
    elif kind == "error":
        execution.error = models.CodeError.from_json(event)
    elif kind == "executionCount":
        execution.execution_count = event.get("executionCount")
