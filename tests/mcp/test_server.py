"""`mbox mcp` as an agent meets it: the official MCP client drives the server over stdio
and streamable HTTP, and every tool call reaches a live mbox API (real sandboxes on the
local runtime, real audit trail). No mocks."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import httpx2
import pytest
from mcp import ClientSession, StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client

from tests.mcp.conftest import ROOT
from tests.support.builders import free_port

TOOLS = {
    "list_templates",
    "list_sandboxes",
    "launch_sandbox",
    "run_command",
    "read_file",
    "write_file",
    "list_files",
    "preview_url",
    "capture_artifact",
    "stop_sandbox",
    "delete_sandbox",
}


@contextlib.asynccontextmanager
async def stdio_session(env: dict[str, str]) -> AsyncIterator[ClientSession]:
    """`python -m mbox.mcp_server` started by the SDK's stdio client, as an agent host does."""
    params = StdioServerParameters(
        command=sys.executable, args=["-m", "mbox.mcp_server"], env=env, cwd=ROOT
    )
    async with (
        stdio_client(params) as (read, write),
        ClientSession(read, write, read_timeout_seconds=120) as session,
    ):
        await session.initialize()
        yield session


async def call(session: ClientSession, tool: str, **arguments: Any) -> dict[str, Any]:
    """A tool's structured result; a tool error fails the test with its text."""
    result = await session.call_tool(tool, arguments)
    assert not result.is_error, f"{tool} failed: {text(result)}"
    assert isinstance(result.structured_content, dict), result
    return result.structured_content


def text(result: Any) -> str:
    return "\n".join(getattr(block, "text", "") for block in result.content)


async def test_an_agent_launches_runs_edits_previews_captures_and_deletes(
    mbox, project, server_env, live
) -> None:
    template = mbox.templates.create(
        f"web {uuid.uuid4().hex[:6]}",
        image="host",
        project_id=project.id,
        exposed_ports=[{"name": "http", "port": 8000}],
    )
    async with stdio_session(server_env) as session:
        listed = await session.list_tools()
        tools = {tool.name: tool for tool in listed.tools}
        assert set(tools) >= TOOLS
        for name in TOOLS:
            assert tools[name].description, name
            assert tools[name].input_schema["type"] == "object", name
            assert tools[name].output_schema, name  # structured output
        run_schema = tools["run_command"].input_schema
        assert {"sandbox_id", "command"} <= set(run_schema["required"])
        assert run_schema["properties"]["sandbox_id"]["description"]

        templates = (await call(session, "list_templates", project=project.id))["templates"]
        assert {"shell", "python", "nodejs", template.slug} <= {t["slug"] for t in templates}
        ours = next(t for t in templates if t["slug"] == template.slug)
        assert ours["exposed_ports"] == [{"name": "http", "port": 8000}]

        launched = await call(
            session, "launch_sandbox", template=template.slug, project=project.slug, name="agent"
        )
        sandbox_id = launched["id"]
        assert launched["status"] == "running"
        assert [p["port"] for p in launched["preview_ports"]] == [8000]
        listed_sandboxes = await call(session, "list_sandboxes", project=project.id)
        assert sandbox_id in {sb["id"] for sb in listed_sandboxes["sandboxes"]}

        hi = await call(session, "run_command", sandbox_id=sandbox_id, command="echo hi")
        assert (hi["status"], hi["exit_code"], hi["stdout"]) == ("succeeded", 0, "hi\n")
        assert hi["truncated"] is False
        failed = await call(
            session,
            "run_command",
            sandbox_id=sandbox_id,
            command=["sh", "-c", 'echo "$GREETING" >&2; exit 3'],
            env={"GREETING": "bye"},
        )
        assert (failed["exit_code"], failed["stderr"]) == (3, "bye\n")

        content = "hello from the agent\nline two\n"
        written = await call(
            session, "write_file", sandbox_id=sandbox_id, path="notes/hello.txt", content=content
        )
        assert written["bytes_written"] == len(content.encode())
        read = await call(session, "read_file", sandbox_id=sandbox_id, path="notes/hello.txt")
        assert (read["encoding"], read["content"], read["truncated"]) == ("utf-8", content, False)
        seen = await call(session, "run_command", sandbox_id=sandbox_id, command="cat notes/*")
        assert seen["stdout"] == content

        binary = bytes(range(256))
        await call(
            session,
            "write_file",
            sandbox_id=sandbox_id,
            path="blob.bin",
            content=base64.b64encode(binary).decode(),
            encoding="base64",
        )
        blob = await call(session, "read_file", sandbox_id=sandbox_id, path="blob.bin")
        assert blob["encoding"] == "base64" and "base64" in blob["note"]
        assert base64.b64decode(blob["content"]) == binary

        # Long output and big files are cut, and the result says so.
        long = await call(
            session, "run_command", sandbox_id=sandbox_id, command="yes | head -c 200000"
        )
        assert long["truncated"] is True and "200000" in long["note"]
        assert long["stdout_bytes"] == 200_000 and len(long["stdout"]) < 200_000
        await call(
            session,
            "run_command",
            sandbox_id=sandbox_id,
            command="head -c 300000 /dev/zero | tr '\\0' a > big.txt",
        )
        big = await call(
            session, "read_file", sandbox_id=sandbox_id, path="big.txt", max_bytes=1000
        )
        assert (big["content"], big["truncated"]) == ("a" * 1000, True)

        files = await call(session, "list_files", sandbox_id=sandbox_id)
        kinds = {entry["name"]: entry["type"] for entry in files["entries"]}
        assert kinds["notes"] == "directory" and kinds["blob.bin"] == "file"
        assert next(e for e in files["entries"] if e["name"] == "big.txt")["size"] == 300_000
        inside = await call(session, "list_files", sandbox_id=sandbox_id, path="notes")
        assert [(e["name"], e["size"]) for e in inside["entries"]] == [("hello.txt", len(content))]

        proxy = await call(session, "preview_url", sandbox_id=sandbox_id, port=8000)
        assert proxy["kind"] == "api-proxy"
        assert proxy["url"] == f"{live.url}/v1/sandboxes/{sandbox_id}/ports/8000/proxy/"
        shared = await call(session, "preview_url", sandbox_id=sandbox_id, port=8000, share=True)
        assert shared["kind"] == "share-link" and shared["link_id"] and shared["expires_at"]
        assert shared["url"].startswith("http")
        assert [link.id for link in mbox.previews.links(sandbox_id)] == [shared["link_id"]]

        artifact = await call(
            session, "capture_artifact", sandbox_id=sandbox_id, path="notes/hello.txt"
        )
        assert artifact["sha256"] == hashlib.sha256(content.encode()).hexdigest()
        assert artifact["size_bytes"] == len(content.encode())
        assert mbox.artifacts.download(artifact["artifact_id"]) == content.encode()

        stopped = await call(session, "stop_sandbox", sandbox_id=sandbox_id)
        assert stopped["status"] == "stopped"
        deleted = await call(session, "delete_sandbox", sandbox_id=sandbox_id)
        assert deleted == {"id": sandbox_id, "deleted": True}
        # The artifact outlives its sandbox.
        assert mbox.artifacts.download(artifact["artifact_id"]) == content.encode()

    # Every call went through the API as the token's principal, attributed to "mcp".
    response = httpx.get(
        f"{live.url}/v1/audit-events",
        params={"resourceId": sandbox_id, "limit": 100},
        headers={"Authorization": f"Bearer {live.token}"},
    )
    response.raise_for_status()
    events = response.json()["items"]
    created = [e for e in events if e["action"] == "sandbox.created"]
    assert created and all(e["source"] == "mcp" for e in created), events
    principal = mbox.whoami().principal
    ours = [e for e in events if e["principal"] != "system"]  # not the reconciler's
    assert {(e["principal"], e["source"]) for e in ours} == {(principal, "mcp")}, events
    actions = {e["action"] for e in ours}
    assert {"sandbox.file.written", "sandbox.stopped", "sandbox.deleted"} <= actions


async def test_refusals_are_tool_errors_and_the_session_goes_on(mbox, project, server_env) -> None:
    denied = mbox.projects.create(f"denied {uuid.uuid4().hex[:6]}", default_namespace="mcp-deny")
    mbox.projects.set_policy(
        denied.id, enforcement="enforced", allowed_image_prefixes=["registry.example/"]
    )
    missing = str(uuid.uuid4())
    async with stdio_session(server_env) as session:
        result = await session.call_tool(
            "run_command", {"sandbox_id": missing, "command": "echo hi"}
        )
        assert result.is_error
        assert "mbox API refused (404)" in text(result)
        assert f"/v1/sandboxes/{missing}/tasks" in text(result)  # what was refused
        with pytest.raises(Exception) as refused:
            mbox.tasks.create(missing, ["true"])
        assert refused.value.message in text(result)  # the server's own words

        result = await session.call_tool(
            "launch_sandbox", {"template": "shell", "project": denied.id}
        )
        assert result.is_error
        message = text(result)
        assert "mbox API refused (403)" in message and "denied" in message
        assert "rules broken:\n- allowedImagePrefixes: " in message  # the broken rule, named

        result = await session.call_tool(
            "launch_sandbox", {"template": "no-such-template", "project": project.id}
        )
        assert result.is_error and "no-such-template" in text(result)
        result = await session.call_tool("launch_sandbox", {"template": "shell"})
        assert result.is_error and "say which project" in text(result)  # two projects now

        result = await session.call_tool("run_command", {"sandbox_id": missing})
        assert result.is_error and "command" in text(result)  # argument validation

        # The server is still there and answers.
        templates = await call(session, "list_templates", project=project.id)
        assert templates["templates"]


SERVE_HTTP = [sys.executable, "-m", "mbox.mcp_server", "--transport", "http"]


@contextlib.contextmanager
def http_server(env: dict[str, str]) -> Iterator[str]:
    """`python -m mbox.mcp_server --transport http` on a free loopback port."""
    port = free_port()
    process = subprocess.Popen(
        [*SERVE_HTTP, "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}/mcp"
    try:
        deadline = time.monotonic() + 20
        while True:
            assert process.poll() is None, process.stderr.read().decode()  # type: ignore[union-attr]
            try:
                httpx.get(url, timeout=1)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "the MCP HTTP server did not start"
                time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-06-18",
        "capabilities": {},
        "clientInfo": {"name": "probe", "version": "0"},
    },
}
MCP_HEADERS = {"Accept": "application/json, text/event-stream"}


async def test_streamable_http_serves_tools_and_refuses_foreign_origins(
    project, server_env
) -> None:
    with http_server(server_env) as url:
        async with (
            streamable_http_client(url) as (read, write),
            ClientSession(read, write, read_timeout_seconds=60) as session,
        ):
            await session.initialize()
            assert {tool.name for tool in (await session.list_tools()).tools} >= TOOLS
            templates = await call(session, "list_templates", project=project.id)
            assert "shell" in {t["slug"] for t in templates["templates"]}

        with httpx.Client(timeout=10) as http:
            # A page on another origin (a browser sends its Origin) is refused...
            foreign = http.post(
                url, json=INITIALIZE, headers={**MCP_HEADERS, "Origin": "https://evil.example"}
            )
            assert foreign.status_code == 403, foreign.text
            # ...and so is a DNS-rebound name reaching the loopback address.
            rebound = http.post(
                url, json=INITIALIZE, headers={**MCP_HEADERS, "Host": "evil.example:80"}
            )
            assert rebound.status_code == 421, rebound.text
            # A loopback origin gets through the checks.
            local = http.post(
                url, json=INITIALIZE, headers={**MCP_HEADERS, "Origin": "http://localhost:3000"}
            )
            assert local.status_code == 200, local.text


async def test_with_a_token_set_http_clients_must_send_it(project, server_env) -> None:
    secret = uuid.uuid4().hex
    with http_server({**server_env, "MBOX_MCP_HTTP_TOKEN": secret}) as url:
        refused = httpx.post(url, json=INITIALIZE, headers=MCP_HEADERS, timeout=10)
        assert refused.status_code == 401
        assert refused.headers["www-authenticate"].startswith("Bearer")
        wrong = httpx.post(
            url, json=INITIALIZE, headers={**MCP_HEADERS, "Authorization": "Bearer nope"}
        )
        assert wrong.status_code == 401
        client = httpx2.AsyncClient(
            headers={"Authorization": f"Bearer {secret}"}, timeout=httpx2.Timeout(30, read=120)
        )
        async with (
            client,
            streamable_http_client(url, http_client=client) as (read, write),
            ClientSession(read, write, read_timeout_seconds=60) as session,
        ):
            await session.initialize()
            templates = await call(session, "list_templates", project=project.id)
            assert templates["templates"]


def test_http_beyond_loopback_needs_a_token(server_env) -> None:
    result = subprocess.run(
        [*SERVE_HTTP, "--host", "0.0.0.0", "--port", str(free_port())],
        cwd=ROOT,
        env=server_env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode != 0
    assert "MBOX_MCP_HTTP_TOKEN" in result.stderr and "Traceback" not in result.stderr


def test_a_missing_mcp_extra_says_what_to_install() -> None:
    blocked = "import sys; sys.modules['mcp'] = None; import mbox.mcp_server"
    result = subprocess.run(
        [sys.executable, "-c", blocked], cwd=ROOT, capture_output=True, text=True, timeout=30
    )
    assert result.returncode != 0
    assert "mbox mcp needs the MCP SDK: pip install 'mbox[mcp]'" in result.stderr


def test_the_module_imports_no_server_code() -> None:
    probe = (
        "import sys, mbox.mcp_server; "
        "print(sorted(m for m in ('backend', 'reflex', 'sqlmodel', 'fastapi') if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
