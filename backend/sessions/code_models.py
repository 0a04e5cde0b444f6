"""Code runs in a sandbox's Jupyter kernels (the JSON API's and the console's shapes).

The kernel hub (kernels.py) yields E2B's events; `CodeExecution.collect` folds them into
one answer. Every value came from the sandbox: each is checked for its type here, so an
event the sandbox made up cannot become anything but text in the answer.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from pydantic import Field

from backend.schemas import PublicModel, RequestModel
from backend.sessions.kernels import MAX_CODE

MAX_TIMEOUT_SECONDS = 3600
DEFAULT_TIMEOUT_SECONDS = 300
# A result's formats by their names in the kernel's events (E2B's) and on the wire.
RESULT_FORMATS = (
    "text",
    "html",
    "markdown",
    "svg",
    "png",
    "jpeg",
    "pdf",
    "latex",
    "javascript",
)


class CodeRun(RequestModel):
    code: str = Field(max_length=MAX_CODE, description="Python source to run")
    context_id: str | None = Field(
        default=None, max_length=64, description="a context of this sandbox (default: its own)"
    )
    language: str | None = Field(default=None, max_length=32, description="python (the default)")
    env_vars: dict[str, str] | None = Field(
        default=None, description="environment variables for this run only"
    )
    timeout_seconds: int | None = Field(
        default=None,
        ge=1,
        le=MAX_TIMEOUT_SECONDS,
        description=f"interrupt the run after this long (default {DEFAULT_TIMEOUT_SECONDS})",
    )


class CodeContextCreate(RequestModel):
    language: str | None = Field(default=None, max_length=32, description="python (the default)")
    cwd: str | None = Field(default=None, description="the kernel's working directory")


class CodeContext(PublicModel):
    """A kernel of its own: variables and imports of one context are not another's."""

    id: str
    language: str
    cwd: str


class CodeResult(PublicModel):
    """A value (`isMainResult`: the cell's last expression) or a display, in each format
    the kernel gave (`png`, `jpeg` in base64)."""

    is_main_result: bool = False
    text: str | None = None
    html: str | None = None
    markdown: str | None = None
    svg: str | None = None
    png: str | None = None
    jpeg: str | None = None
    pdf: str | None = None
    latex: str | None = None
    javascript: str | None = None
    json_: Any = Field(default=None, alias="json")
    extra: dict[str, Any] | None = Field(default=None, description="other MIME types")

    @classmethod
    def of(cls, event: dict[str, Any]) -> CodeResult:
        values: dict[str, Any] = {"is_main_result": event.get("is_main_result") is True}
        for name in RESULT_FORMATS:
            if isinstance(event.get(name), str):
                values[name] = event[name]
        values["json_"] = event.get("json")
        if isinstance(event.get("extra"), dict):
            values["extra"] = event["extra"]
        return cls(**values)


class CodeError(PublicModel):
    name: str
    value: str
    traceback: str = Field(description="as IPython wrote it (with ANSI colours)")


class CodeExecution(PublicModel):
    """What a run gave: its results, output, error (null when it ran through) and the
    kernel's execution count."""

    results: list[CodeResult] = []
    stdout: list[str] = []
    stderr: list[str] = []
    error: CodeError | None = None
    execution_count: int | None = None

    def add(self, event: dict[str, Any]) -> None:
        """One of the kernel's events, folded in."""
        kind = event.get("type")
        if kind in ("stdout", "stderr"):
            getattr(self, kind).append(_text(event.get("text")))
        elif kind == "result":
            self.results.append(CodeResult.of(event))
        elif kind == "error":
            self.error = CodeError(
                name=_text(event.get("name")),
                value=_text(event.get("value")),
                traceback=_text(event.get("traceback")),
            )
        elif kind == "number_of_executions":
            count = event.get("execution_count")
            if isinstance(count, int) and not isinstance(count, bool):
                self.execution_count = count

    @classmethod
    async def collect(cls, events: AsyncIterator[dict[str, Any]]) -> CodeExecution:
        execution = cls()
        async for event in events:
            execution.add(event)
        return execution

    @property
    def text(self) -> str | None:
        """The main result's text (the cell's value), as a notebook shows it."""
        return next((r.text for r in self.results if r.is_main_result), None)

    def to_json(self) -> dict[str, Any]:
        body = super().to_json()
        body.setdefault("error", None)
        body.setdefault("executionCount", None)
        return body


def wire_event(event: dict[str, Any]) -> dict[str, Any] | None:
    """A kernel event as a line of the streamed answer (camelCase, checked), or None."""
    execution = CodeExecution()
    execution.add(event)
    kind = event.get("type")
    if kind in ("stdout", "stderr"):
        return {"type": kind, "text": (execution.stdout or execution.stderr)[0]}
    if execution.results:
        return {"type": "result", **execution.results[0].to_json()}
    if execution.error is not None:
        return {"type": "error", **execution.error.to_json()}
    if kind == "number_of_executions":
        return {"type": "executionCount", "executionCount": execution.execution_count}
    return None


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""
