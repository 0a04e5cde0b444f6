"""`mbox mcp`: mbox sandboxes as Model Context Protocol tools for agents.

The server is a client of the mbox API like any other: one `AsyncMbox` configured from
the environment or a context (MBOX_API_URL, MBOX_TOKEN, MBOX_CONTEXT, ...), so every
tool call is an API request made as the token's principal: policy, quotas and audit
apply, and the audit trail names the source "mcp" (or MBOX_AUDIT_SOURCE).

Transports: stdio (an agent host starts `mbox mcp` and speaks over its pipes) and
streamable HTTP (`mbox mcp --transport http`, loopback by default, with the SDK's
Host/Origin checks always on so a web page cannot reach it by DNS rebinding).

    python -m mbox.mcp_server [--transport stdio|http] [--host H] [--port P]
"""

# No `from __future__ import annotations`: the MCP SDK reads the tools' annotations to
# build their input and output schemas.

import argparse
import base64
import binascii
import contextlib
import functools
import hmac
import ipaddress
import os
import sys
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, Literal, TypeVar

try:
    from mcp.server.mcpserver import MCPServer
    from mcp.server.mcpserver.exceptions import ToolError
    from mcp.server.transport_security import TransportSecuritySettings
    from mcp_types import ToolAnnotations
    from pydantic import BaseModel, Field
except ImportError as exc:  # the optional extra is not installed, or is too old
    if sys.modules.get("mcp") is not None:  # mcp 1.x: no MCPServer (it was FastMCP)
        raise ImportError("mbox mcp needs the MCP SDK 2.x: pip install -U 'mcp>=2.3'") from exc
    raise ImportError("mbox mcp needs the MCP SDK: pip install 'mbox[mcp]'") from exc

from mbox import __version__, errors, models
from mbox._async.client import AsyncMbox

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765
HTTP_PATH = "/mcp"
AUDIT_SOURCE = "mcp"
MAX_READ_BYTES = 256 * 1024  # read_file's default cap: an agent's context is not a disk
MAX_OUTPUT_CHARS = 64 * 1024  # what the API keeps of a task's stdout/stderr on the task
ENV_HTTP_TOKEN = "MBOX_MCP_HTTP_TOKEN"  # a bearer token HTTP clients must send
ENV_ALLOWED_HOSTS = "MBOX_MCP_ALLOWED_HOSTS"  # extra Host values for a non-loopback bind
ENV_ALLOWED_ORIGINS = "MBOX_MCP_ALLOWED_ORIGINS"  # extra Origin values (browser clients)

INSTRUCTIONS = """\
Tools for mbox sandboxes: isolated workspaces launched from templates, where you can run
commands, read and write files, open preview URLs for ports and keep files as artifacts.
A typical flow: list_templates, launch_sandbox (returns the sandbox id), run_command /
write_file / read_file / list_files with that id, preview_url for a port, capture_artifact
for a result to keep, then stop_sandbox or delete_sandbox. Paths are relative to the
sandbox's workspace. Every call is made as the configured mbox principal: a refusal (a
missing sandbox, a policy or quota denial) comes back as a tool error with the reason."""


# --- results (structured output) -----------------------------------------------------


class Port(BaseModel):
    name: str = Field(description="The port's name in the template")
    port: int = Field(description="Port number inside the sandbox")


class TemplateInfo(BaseModel):
    id: str
    slug: str = Field(description="Pass this (or the id) to launch_sandbox")
    name: str
    image: str
    project_id: str | None = Field(description="Owning project; null for a shared template")
    exposed_ports: list[Port] = Field(description="Ports a sandbox of it can preview")


class TemplateList(BaseModel):
    templates: list[TemplateInfo]


class PreviewPortInfo(BaseModel):
    name: str
    port: int
    available: bool = Field(description="Whether a preview can be opened now")
    message: str | None = Field(None, description="Why not, when unavailable")


class SandboxInfo(BaseModel):
    id: str = Field(description="The sandbox id the other tools take")
    name: str
    status: str = Field(description="pending, starting, running, stopping, stopped, failed, ...")
    status_message: str | None = None
    project_id: str
    template_id: str | None = None
    ports: list[Port] = Field(default_factory=list, description="Declared ports")


class SandboxList(BaseModel):
    sandboxes: list[SandboxInfo]


class LaunchResult(SandboxInfo):
    preview_ports: list[PreviewPortInfo] = Field(
        default_factory=list, description="Ports preview_url can open"
    )


class CommandResult(BaseModel):
    task_id: str
    status: str = Field(description="succeeded, failed, canceled or timed_out")
    exit_code: int | None = Field(description="The command's exit code (null if it never ran)")
    stdout: str
    stderr: str
    stdout_bytes: int = Field(description="Total bytes the command wrote to stdout")
    stderr_bytes: int = Field(description="Total bytes the command wrote to stderr")
    truncated: bool = Field(description="True when stdout or stderr here is not all of it")
    error: str | None = Field(None, description="Why the task failed, beyond its exit code")
    note: str | None = None


class FileContent(BaseModel):
    path: str
    encoding: Literal["utf-8", "base64"] = Field(
        description="utf-8: content is the text; base64: the file is binary, content is base64"
    )
    content: str
    size_bytes: int = Field(description="Bytes returned (before base64)")
    truncated: bool = Field(description="True when only the first max_bytes were returned")
    note: str | None = None


class WriteResult(BaseModel):
    path: str
    bytes_written: int


class FileEntry(BaseModel):
    name: str
    path: str = Field(description="Relative to the workspace")
    type: str = Field(description="file, directory, symlink or other")
    size: int


class FileList(BaseModel):
    path: str
    entries: list[FileEntry]


class PreviewUrl(BaseModel):
    sandbox_id: str
    port: int
    url: str
    kind: Literal["api-proxy", "share-link"] = Field(
        description="api-proxy: needs the mbox token (Authorization: Bearer); share-link: "
        "anyone holding the URL can open it until it expires"
    )
    browser_origin: str | None = Field(
        None, description="The port's own origin, for a browser signed in to the mbox console"
    )
    link_id: str | None = None
    expires_at: str | None = None


class ArtifactInfo(BaseModel):
    artifact_id: str
    name: str
    uri: str
    size_bytes: int
    sha256: str = Field(description="sha256 of the retained bytes, hex")
    content_type: str | None = None


class Deleted(BaseModel):
    id: str
    deleted: bool


# --- the API client and its errors -----------------------------------------------------


def make_client() -> AsyncMbox:
    """The API client every tool uses, configured as any mbox client is (MBOX_API_URL,
    MBOX_TOKEN, MBOX_CONTEXT, the current context), with the audit source "mcp" unless
    MBOX_AUDIT_SOURCE names another."""
    return AsyncMbox(audit_source=os.environ.get("MBOX_AUDIT_SOURCE") or AUDIT_SOURCE)


def describe_error(exc: Exception) -> str:
    """An mbox error as the text an agent reads: the server's message, the HTTP status,
    a policy or quota denial's broken rules, the request id to quote."""
    if not isinstance(exc, errors.ApiError):
        return str(exc) or type(exc).__name__
    where = f" ({exc.method} {exc.path})" if exc.method else ""
    text = f"mbox API refused ({exc.status}): {exc.message}{where}"
    denial = exc.denial
    if denial:
        rules = []
        for rule in denial.get("rules", []):
            if isinstance(rule, dict):
                name, message = rule.get("rule", ""), rule.get("message", "")
                rules.append(f"{name}: {message}" if name else str(message))
        operation = denial.get("operation")
        text += f"\n{operation or 'the operation'} denied; rules broken:"
        text += "".join(f"\n- {rule}" for rule in rules) or " (no rule given)"
    if exc.request_id:
        text += f"\nrequest id: {exc.request_id}"
    return text


_Tool = TypeVar("_Tool", bound=Callable[..., Awaitable[Any]])


def api_errors(fn: _Tool) -> _Tool:
    """An mbox refusal (or an unreachable server) becomes the tool's error result with
    its reason, rather than the SDK's generic 'Error executing tool'."""

    @functools.wraps(fn)
    async def tool(*args: Any, **kwargs: Any) -> Any:
        try:
            return await fn(*args, **kwargs)
        except errors.MboxError as exc:
            raise ToolError(describe_error(exc)) from exc

    return tool  # type: ignore[return-value]


def _ports(info: models.Sandbox | models.EnvironmentTemplate) -> list[Port]:
    declared = info.ports if isinstance(info, models.Sandbox) else info.exposed_ports
    return [Port(name=p.name or str(p.port), port=p.port) for p in declared or []]


def _sandbox(info: models.Sandbox) -> SandboxInfo:
    return SandboxInfo(
        id=info.id,
        name=info.name,
        status=info.status,
        status_message=info.status_message,
        project_id=info.project_id,
        template_id=info.template_id,
        ports=_ports(info),
    )


async def _read_head(client: AsyncMbox, sandbox_id: str, path: str, limit: int) -> bytes:
    """The first `limit` bytes of a workspace file, without fetching the rest."""
    chunks, size = [], 0
    async with client.transport.stream(
        "GET", f"/v1/sandboxes/{sandbox_id}/files/content", params={"path": path}
    ) as response:
        async for chunk in response.aiter_bytes():
            chunks.append(chunk)
            size += len(chunk)
            if size >= limit:
                break
    return b"".join(chunks)[:limit]


def _cap(text: str, limit: int) -> tuple[str, bool]:
    return (text, False) if len(text) <= limit else (text[:limit], True)


def _absolute(client: AsyncMbox, url: str) -> str:
    return client.config.api_url + url if url.startswith("/") else url


# --- the server --------------------------------------------------------------------------

SandboxId = Annotated[str, Field(description="The sandbox id (from launch_sandbox)")]
WorkspacePath = Annotated[str, Field(description="A path relative to the sandbox's workspace")]
ProjectRef = Annotated[
    str | None,
    Field(description="Project id, slug or name; omit when the token sees one project"),
]

READ_ONLY = ToolAnnotations(read_only_hint=True, open_world_hint=False)


def build_server(client: AsyncMbox) -> MCPServer:
    """The MCP server with its tools, each a call of the API through `client` (which
    the caller closes)."""

    server = MCPServer(
        "mbox",
        title="mbox sandboxes",
        instructions=INSTRUCTIONS,
        version=__version__,
        log_level="WARNING",
    )

    @server.tool(annotations=READ_ONLY)
    @api_errors
    async def list_templates(project: ProjectRef = None) -> TemplateList:
        """List the templates sandboxes can be launched from (the project's own and the
        shared ones): slug, image and the ports each exposes for previews."""
        project_id = await client.resolve_project(project) if project else None
        found = await client.templates.list(project_id=project_id, limit=500)
        return TemplateList(
            templates=[
                TemplateInfo(
                    id=t.id,
                    slug=t.slug,
                    name=t.name,
                    image=t.image,
                    project_id=t.project_id,
                    exposed_ports=_ports(t),
                )
                for t in found
            ]
        )

    @server.tool(annotations=READ_ONLY)
    @api_errors
    async def list_sandboxes(project: ProjectRef = None) -> SandboxList:
        """List the sandboxes the token can see (optionally of one project), with their
        status."""
        project_id = await client.resolve_project(project) if project else None
        found = await client.sandboxes.list(project_id=project_id, limit=500)
        return SandboxList(sandboxes=[_sandbox(sb.info) for sb in found])

    @server.tool(annotations=ToolAnnotations(destructive_hint=False, open_world_hint=False))
    @api_errors
    async def launch_sandbox(
        template: Annotated[str, Field(description="Template slug or id (see list_templates)")],
        project: ProjectRef = None,
        name: Annotated[str | None, Field(description="A name for the sandbox")] = None,
        wait: Annotated[
            bool, Field(description="Wait until it runs (true) or return at once")
        ] = True,
        wait_timeout: Annotated[
            float, Field(description="Seconds to wait for it to run", gt=0, le=900)
        ] = 300,
    ) -> LaunchResult:
        """Launch a sandbox from a template and (by default) wait until it is running.
        Returns its id (for every other tool), status and the ports preview_url can open."""
        sandbox = await client.sandboxes.create(
            template, project=project, name=name, wait=wait, wait_timeout=wait_timeout
        )
        ports: list[PreviewPortInfo] = []
        if sandbox.info.ports:
            for p in await sandbox.ports.list():
                ports.append(
                    PreviewPortInfo(
                        name=p.name, port=p.port, available=p.available, message=p.message
                    )
                )
        return LaunchResult(**_sandbox(sandbox.info).model_dump(), preview_ports=ports)

    @server.tool(annotations=ToolAnnotations(open_world_hint=False))
    @api_errors
    async def run_command(
        sandbox_id: SandboxId,
        command: Annotated[
            list[str] | str,
            Field(
                description='An argv list (e.g. ["python3", "-V"]) or a shell line, '
                "which is run by `sh -c`"
            ),
        ],
        timeout: Annotated[
            int | None, Field(description="The command's limit in seconds", gt=0)
        ] = None,
        cwd: Annotated[
            str | None, Field(description="Working directory (default: the workspace)")
        ] = None,
        env: Annotated[
            dict[str, str] | None, Field(description="Extra environment variables")
        ] = None,
    ) -> CommandResult:
        """Run a command in a running sandbox to its end; returns its exit code, status,
        stdout and stderr (the first 64 KiB of each; `truncated` says when there was
        more: redirect to a file and use read_file for long output)."""
        argv = ["sh", "-c", command] if isinstance(command, str) else list(command)
        if not argv:
            raise ToolError("command is empty")
        task = await client.tasks.run(sandbox_id, argv, timeout=timeout, cwd=cwd, env=env)
        stdout, cut_out = _cap(task.stdout, MAX_OUTPUT_CHARS)
        stderr, cut_err = _cap(task.stderr, MAX_OUTPUT_CHARS)
        truncated = bool(task.output_truncated or cut_out or cut_err)
        note = None
        if truncated:
            note = (
                f"output truncated: stdout {task.stdout_bytes} bytes, stderr "
                f"{task.stderr_bytes} bytes in all; redirect to a file and read_file it"
            )
        return CommandResult(
            task_id=task.id,
            status=task.status,
            exit_code=task.exit_code,
            stdout=stdout,
            stderr=stderr,
            stdout_bytes=task.stdout_bytes,
            stderr_bytes=task.stderr_bytes,
            truncated=truncated,
            error=task.error,
            note=note,
        )

    @server.tool(annotations=READ_ONLY)
    @api_errors
    async def read_file(
        sandbox_id: SandboxId,
        path: WorkspacePath,
        max_bytes: Annotated[
            int, Field(description="Return at most this many bytes", gt=0, le=16 * 1024 * 1024)
        ] = MAX_READ_BYTES,
    ) -> FileContent:
        """Read a file of the sandbox's workspace. Text (UTF-8) comes back as is; a
        binary file comes back base64-encoded (encoding says which)."""
        data = await _read_head(client, sandbox_id, path, max_bytes + 1)
        truncated = len(data) > max_bytes
        data = data[:max_bytes]
        notes = []
        try:
            text = data.decode("utf-8")
            encoding: Literal["utf-8", "base64"] = "utf-8"
        except UnicodeDecodeError as exc:
            if truncated and exc.start >= len(data) - 3:  # a character cut at the end
                text, encoding = data[: exc.start].decode("utf-8"), "utf-8"
                data = data[: exc.start]
            else:
                text, encoding = base64.b64encode(data).decode("ascii"), "base64"
                notes.append("binary file: content is base64")
        if truncated:
            notes.append(f"only the first {len(data)} bytes (raise max_bytes for more)")
        return FileContent(
            path=path,
            encoding=encoding,
            content=text,
            size_bytes=len(data),
            truncated=truncated,
            note="; ".join(notes) or None,
        )

    @server.tool(annotations=ToolAnnotations(destructive_hint=True, open_world_hint=False))
    @api_errors
    async def write_file(
        sandbox_id: SandboxId,
        path: WorkspacePath,
        content: Annotated[str, Field(description="The file's new content")],
        encoding: Annotated[
            Literal["utf-8", "base64"],
            Field(description="utf-8: content is text; base64: content is base64 bytes"),
        ] = "utf-8",
    ) -> WriteResult:
        """Create or replace a file in the sandbox's workspace (parent directories are
        created)."""
        if encoding == "base64":
            try:
                data = base64.b64decode(content, validate=True)
            except (binascii.Error, ValueError) as exc:
                raise ToolError(f"content is not valid base64: {exc}") from exc
        else:
            data = content.encode("utf-8")
        await client.files.write(sandbox_id, path, data)
        return WriteResult(path=path, bytes_written=len(data))

    @server.tool(annotations=READ_ONLY)
    @api_errors
    async def list_files(
        sandbox_id: SandboxId,
        path: Annotated[
            str, Field(description="A directory relative to the workspace; empty for its root")
        ] = "",
    ) -> FileList:
        """List a directory of the sandbox's workspace: names, types and sizes."""
        items = await client.files.list(sandbox_id, path)
        return FileList(
            path=path,
            entries=[
                FileEntry(
                    name=str(item.get("name", "")),
                    path=str(item.get("path", "")),
                    type=str(item.get("type", "")),
                    size=int(item.get("size") or 0),
                )
                for item in items
            ],
        )

    @server.tool(annotations=ToolAnnotations(open_world_hint=False))
    @api_errors
    async def preview_url(
        sandbox_id: SandboxId,
        port: Annotated[int, Field(description="A port the sandbox's template exposes")],
        share: Annotated[
            bool,
            Field(
                description="false: the API's proxy URL (needs the mbox token); true: create "
                "a share link anyone with the URL can open until it expires"
            ),
        ] = False,
        expires_in_seconds: Annotated[
            int | None, Field(description="A share link's lifetime (server default)", gt=0)
        ] = None,
    ) -> PreviewUrl:
        """A URL for a port of a running sandbox: through the API's authenticated proxy,
        or (share=true) a share link for a person or a browser without the token."""
        sandbox = await client.sandboxes.get(sandbox_id)
        if not share:
            url = await sandbox.ports.url(port)
            found = [p for p in await sandbox.ports.list() if p.port == port]
            origin = found[0].preview_origin if found else None
            return PreviewUrl(
                sandbox_id=sandbox_id, port=port, url=url, kind="api-proxy", browser_origin=origin
            )
        link = await sandbox.ports.share(port, expires_in_seconds=expires_in_seconds, label="mcp")
        if not link.url:
            raise ToolError(f"the server made share link {link.id} but gave no URL")
        return PreviewUrl(
            sandbox_id=sandbox_id,
            port=port,
            url=_absolute(client, link.url),
            kind="share-link",
            link_id=link.id,
            expires_at=link.expires_at.isoformat(),
        )

    @server.tool(annotations=ToolAnnotations(open_world_hint=False))
    @api_errors
    async def capture_artifact(
        sandbox_id: SandboxId,
        path: Annotated[str, Field(description="A workspace file (or directory, kept as tar.gz)")],
        name: Annotated[
            str | None, Field(description="The artifact's name (default: the file name)")
        ] = None,
    ) -> ArtifactInfo:
        """Keep a workspace file as an artifact: its bytes are retained now and outlive
        the sandbox. Returns the artifact id, size and sha256."""
        sandbox = await client.sandboxes.get(sandbox_id)
        artifact = await sandbox.artifacts.capture(path, name=name)
        retained = artifact.retained_content
        if retained is None:
            raise ToolError(f"artifact {artifact.id} was registered but its bytes not retained")
        return ArtifactInfo(
            artifact_id=artifact.id,
            name=artifact.name,
            uri=artifact.uri,
            size_bytes=retained.size_bytes,
            sha256=retained.sha256,
            content_type=retained.content_type or artifact.content_type,
        )

    @server.tool(annotations=ToolAnnotations(destructive_hint=False, idempotent_hint=True))
    @api_errors
    async def stop_sandbox(
        sandbox_id: SandboxId,
        wait: Annotated[bool, Field(description="Wait until it has stopped")] = True,
    ) -> SandboxInfo:
        """Stop a sandbox (its workspace is kept; it can be started again from the API or
        console)."""
        sandbox = await client.sandboxes.get(sandbox_id)
        if sandbox.status != "stopped":
            await sandbox.stop(wait=wait)
        return _sandbox(sandbox.info)

    @server.tool(annotations=ToolAnnotations(destructive_hint=True, idempotent_hint=True))
    @api_errors
    async def delete_sandbox(sandbox_id: SandboxId) -> Deleted:
        """Delete a sandbox and its workspace (captured artifacts are kept)."""
        await client.sandboxes.delete(sandbox_id)
        return Deleted(id=sandbox_id, deleted=True)

    return server


# --- transports ------------------------------------------------------------------------


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _env_list(name: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, "").split(",") if item.strip()]


def transport_security(host: str) -> TransportSecuritySettings:
    """DNS-rebinding protection, on whatever the address: requests must name a known
    Host (loopback names, the bound address, MBOX_MCP_ALLOWED_HOSTS) and, from a
    browser, a known Origin (loopback ones, MBOX_MCP_ALLOWED_ORIGINS). A page on another
    origin is refused (403), and so is a rebound name in Host (421)."""
    hosts = ["127.0.0.1:*", "localhost:*", "[::1]:*"]
    origins = ["http://127.0.0.1:*", "http://localhost:*", "http://[::1]:*"]
    unspecified = host in ("0.0.0.0", "::", "")
    if not _is_loopback(host) and not unspecified:
        named = f"[{host}]" if ":" in host else host
        hosts.append(f"{named}:*")
        origins.append(f"http://{named}:*")
    hosts += _env_list(ENV_ALLOWED_HOSTS)
    origins += _env_list(ENV_ALLOWED_ORIGINS)
    return TransportSecuritySettings(
        enable_dns_rebinding_protection=True, allowed_hosts=hosts, allowed_origins=origins
    )


class BearerGate:
    """An ASGI wrapper refusing HTTP requests without `Authorization: Bearer <token>`
    (MBOX_MCP_HTTP_TOKEN): on a shared machine or a non-loopback address, only clients
    holding it may act as this server's mbox principal."""

    def __init__(self, app: Any, token: str) -> None:
        self.app = app
        self.expected = f"Bearer {token}".encode()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            given = dict(scope.get("headers") or []).get(b"authorization", b"")
            if not hmac.compare_digest(given, self.expected):
                body = b'{"error": "this MCP server needs its bearer token"}'
                await send(
                    {
                        "type": "http.response.start",
                        "status": 401,
                        "headers": [
                            (b"content-type", b"application/json"),
                            (b"www-authenticate", b'Bearer realm="mbox mcp"'),
                        ],
                    }
                )
                await send({"type": "http.response.body", "body": body})
                return
        await self.app(scope, receive, send)


def http_app(server: MCPServer, host: str) -> Any:
    """The streamable HTTP endpoint (/mcp) with its Host/Origin checks, behind the bearer
    gate when MBOX_MCP_HTTP_TOKEN is set; refused on a non-loopback address without it."""
    token = os.environ.get(ENV_HTTP_TOKEN, "")
    if not token and not _is_loopback(host):
        raise errors.MboxError(
            f"listening on {host} would let anyone who reaches it act as this "
            f"server's mbox principal; set {ENV_HTTP_TOKEN} (clients then send "
            "Authorization: Bearer <it>) or listen on loopback"
        )
    app = server.streamable_http_app(
        streamable_http_path=HTTP_PATH, transport_security=transport_security(host), host=host
    )
    return BearerGate(app, token) if token else app


async def serve(
    transport: str = "stdio", host: str = DEFAULT_HOST, port: int = DEFAULT_PORT
) -> None:
    if transport not in ("stdio", "http"):
        raise ValueError(f"unknown transport {transport!r}: stdio or http")
    async with make_client() as client:
        server = build_server(client)
        if transport == "stdio":
            await server.run_stdio_async()
            return
        import uvicorn

        app = http_app(server, host)
        config = uvicorn.Config(app, host=host, port=port, log_level="warning")
        await uvicorn.Server(config).serve()


def main(transport: str = "stdio", host: str = DEFAULT_HOST, port: int = DEFAULT_PORT) -> None:
    """Serve the tools over stdio (for an agent host that starts this process) or
    streamable HTTP at http://HOST:PORT/mcp; returns when the client or a signal ends it."""
    import anyio

    if transport not in ("stdio", "http"):
        raise ValueError(f"unknown transport {transport!r}: stdio or http")
    with contextlib.suppress(KeyboardInterrupt):  # ^C ends an http server quietly
        anyio.run(serve, transport, host, port)


def _arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="mbox mcp", description="Serve mbox sandboxes to agents over MCP."
    )
    parser.add_argument("--transport", choices=("stdio", "http"), default="stdio")
    parser.add_argument("--host", default=DEFAULT_HOST, help="address for http (loopback)")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="port for http")
    return parser.parse_args(argv)


if __name__ == "__main__":
    from mbox.config import ConfigError

    options = _arguments()
    try:
        main(transport=options.transport, host=options.host, port=options.port)
    except (errors.MboxError, ConfigError) as failure:
        sys.exit(f"mbox mcp: {failure}")
