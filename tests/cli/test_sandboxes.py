"""Sandboxes, tasks, files (`mbox cp`), previews (`mbox open`) and artifacts through the
CLI, against the live server with real bubblewrap sandboxes."""

from __future__ import annotations

import hashlib
import json
import os
import tarfile
import uuid
from pathlib import Path

import pytest

from tests.cli.conftest import Cli


def test_create_wait_get_list_and_lifecycle(cli: Cli, project) -> None:
    name = f"cli-life-{uuid.uuid4().hex[:6]}"
    created = cli(
        "sandbox",
        "create",
        "--project-id",
        project["id"],
        "--template",
        "shell",
        "--name",
        name,
        "--wait",
        "-o",
        "yaml",
    )
    assert "status: running" in created.out.splitlines()
    box = cli.json("sandboxes", "get", name)  # by name
    assert box["status"] == "running" and box["name"] == name
    listed = cli.json("sandboxes", "list", "--project-id", project["slug"])
    assert box["id"] in [item["id"] for item in listed["items"]]
    table = cli("sandboxes", "list", "-o", "table").out
    assert table.split()[:4] == ["ID", "SLUG", "NAME", "STATUS"] and name in table

    assert cli.json("sandboxes", "update", box["id"], "--metadata", '{"k": 1}')["metadata"] == {
        "k": 1
    }
    assert cli.json("sandboxes", "boundary", name)
    assert "logs" in cli.json("sandboxes", "logs", name, "--tail", "5")
    assert "logs" in cli.json("logs", name)  # the reference's top-level shortcut
    assert "items" in cli.json("sandboxes", "events", name)
    assert cli.json("sandboxes", "renew", name, "--ttl-seconds", "3600")["expiresAt"]
    assert cli.json("sandboxes", "stop", name, "--wait")["status"] == "stopped"
    assert cli.json("sandboxes", "start", name, "--wait")["status"] == "running"
    assert (
        cli.json("sandboxes", "wait", name, "--status", "running", "--timeout", "30s")["status"]
        == "running"
    )
    assert cli("sandboxes", "delete", name).out == "deleted\n"
    assert "[HTTP 404]" in cli("sandboxes", "get", box["id"], code=1).err


def test_tasks_run_streams_output_and_exit_codes(cli: Cli, sandbox) -> None:
    ran = cli("tasks", "run", sandbox["slug"], "--", "sh", "-c", "echo out; echo err >&2")
    assert (ran.out, ran.err) == ("out\n", "err\n")
    # a failing task: exit 0 without --require-success, its own code with it
    assert cli("tasks", "run", sandbox["id"], "--", "sh", "-c", "exit 7").code == 0
    failed = cli(
        "tasks",
        "run",
        sandbox["id"],
        "--require-success",
        "--",
        "sh",
        "-c",
        "echo partial; exit 7",
        code=7,
    )
    assert failed.out == "partial\n"
    timed_out = cli(
        "tasks",
        "run",
        sandbox["id"],
        "--require-success",
        "--timeout",
        "1",
        "--",
        "sleep",
        "30",
        code=1,
    )
    assert timed_out.err.startswith("mbox: task ") and "timed_out" in timed_out.err
    # --output prints the finished task instead of its output
    task = cli.json(
        "tasks",
        "run",
        sandbox["id"],
        "-o",
        "json",
        "--command-json",
        '["sh", "-c", "echo $((6 * 7))"]',
    )
    assert (task["status"], task["exitCode"], task["stdout"]) == ("succeeded", 0, "42\n")
    by_arg = cli.json("task", "run", sandbox["id"], "--arg", "echo", "--arg", "a b", "-o", "json")
    assert by_arg["stdout"] == "a b\n"
    by_command = cli(
        "tasks",
        "run",
        sandbox["id"],
        "--command",
        "sh,-c,echo $GREETING",
        "--env",
        "GREETING=hello",
    )
    assert by_command.out == "hello\n"
    # more than the task record keeps (64 KiB): the stream has it all
    big = cli(
        "tasks", "run", sandbox["id"], "--", "sh", "-c", "head -c 200000 /dev/zero | tr '\\0' x"
    )
    assert big.out == "x" * 200_000


def test_tasks_create_watch_wait_get_list_cancel(cli: Cli, sandbox) -> None:
    task = cli.json("tasks", "create", sandbox["id"], "--", "sh", "-c", "echo one; exit 3")
    lines = [json.loads(line) for line in cli("tasks", "watch", task["id"]).out.splitlines()]
    assert lines[0]["type"] == "snapshot" and lines[-1]["type"] == "done"
    assert "one\n" in "".join(e.get("data") or "" for e in lines if e["type"] == "output")
    assert cli("tasks", "watch", task["id"], "--require-success", code=3).out
    finished = cli.json("tasks", "wait", task["id"], "--timeout", "30s")
    assert (finished["status"], finished["exitCode"]) == ("failed", 3)
    assert cli("tasks", "wait", task["id"], "--require-success", code=3).out
    assert cli.json("tasks", "get", task["id"])["exitCode"] == 3
    assert cli("tasks", "output", task["id"]).out == "one\n"
    assert task["id"] in [
        item["id"] for item in cli.json("tasks", "list", sandbox["slug"])["items"]
    ]
    assert cli.json("tasks", "artifacts", task["id"]) == {"items": []}

    sleeper = cli.json("tasks", "create", sandbox["id"], "--", "sleep", "60")
    cli.json("tasks", "cancel", sleeper["id"])
    assert cli.json("tasks", "wait", sleeper["id"], "--timeout", "30s")["status"] == "canceled"
    assert "canceled" in cli("tasks", "wait", sleeper["id"], "--require-success", code=1).err


def _tree(root: Path) -> dict[str, str]:
    return {
        path.relative_to(root).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


def test_cp_round_trip_of_a_directory_tree(cli: Cli, sandbox, tmp_path: Path) -> None:
    source = tmp_path / "project"
    for relative, size in [
        ("README.md", 120),
        ("src/app.py", 4096),
        ("src/pkg/data.bin", 3_000_000),
        ("src/pkg/deep/er/leaf.txt", 7),
        ("empty.txt", 0),
    ]:
        path = source / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(os.urandom(size))
    box = sandbox["slug"]
    up = cli.json("cp", str(source), f"{box}:work/")
    assert up["count"] == 5 and "work/project/src/pkg/data.bin" in up["files"]
    listed = cli("tasks", "run", box, "--", "sh", "-c", "cd work/project && find . -type f | sort")
    assert len(listed.out.splitlines()) == 5

    back = tmp_path / "back"
    down = cli.json("cp", f"{box}:work/project", str(back))
    assert down["count"] == 5
    assert _tree(back) == _tree(source)
    (tmp_path / "into").mkdir()
    cli("cp", f"{sandbox['id']}:work/project/src", str(tmp_path / "into"))  # keeps the name
    assert _tree(tmp_path / "into" / "src") == _tree(source / "src")

    # into an existing remote directory, without a trailing slash: it keeps the name too
    again = cli.json("cp", str(source / "src"), f"{box}:work/project")
    assert "work/project/src/pkg/deep/er/leaf.txt" in again["files"]

    # one file each way, and standard input/output
    cli("cp", str(source / "README.md"), f"{box}:single.md")
    assert cli("cp", f"{box}:single.md", "-").raw == (source / "README.md").read_bytes()
    cli("cp", "-", f"{box}:from-stdin.txt", input=b"piped\n")
    assert cli("tasks", "run", box, "--", "cat", "from-stdin.txt").out == "piped\n"
    assert "one side" in cli("cp", str(source), str(back), code=2).err
    assert "no such file" in cli("cp", str(tmp_path / "missing"), f"{box}:x", code=1).err


def test_archive_downloads_a_directory_as_one_tar_gz(cli: Cli, sandbox, tmp_path: Path) -> None:
    box = sandbox["slug"]
    cli("cp", "-", f"{box}:docs/a.txt", input=b"alpha\n")
    cli("cp", "-", f"{box}:docs/sub/b.txt", input=b"beta\n")
    target = tmp_path / "docs.tar.gz"
    assert cli.json("archive", f"{box}:docs", str(target))["destination"] == str(target)
    with tarfile.open(target) as archive:
        names = sorted(m.name for m in archive.getmembers() if m.isfile())
        assert names == ["docs/a.txt", "docs/sub/b.txt"]
        assert archive.extractfile("docs/sub/b.txt").read() == b"beta\n"  # type: ignore[union-attr]
    assert cli("archive", f"{box}:docs", "-").raw[:2] == b"\x1f\x8b"  # gzip, to stdout
    assert "is not a directory" in cli("archive", f"{box}:docs/a.txt", "-", code=1).err


@pytest.fixture(scope="module")
def web_sandbox(cli: Cli, project):
    template = cli.json(
        "templates",
        "create",
        "--name",
        "cli preview",
        "--image",
        "host",
        "--project",
        project["id"],
        "--port",
        "http:8000",
    )
    box = cli.json(
        "sandboxes",
        "create",
        "--project",
        project["id"],
        "--template",
        template["id"],
        "--name",
        f"web-{uuid.uuid4().hex[:6]}",
        "--wait",
    )
    yield box
    cli("sandboxes", "delete", box["id"])


def test_open_prints_preview_and_share_links(cli: Cli, live, web_sandbox, sandbox) -> None:
    url = cli("open", web_sandbox["slug"]).out.strip()
    assert url == f"{live.url}/v1/sandboxes/{web_sandbox['id']}/ports/8000/proxy/"
    assert cli("open", web_sandbox["id"], "8000").out.strip() == url
    shared = cli("open", web_sandbox["id"], "--share", "--expires", "600").out.strip()
    assert shared.startswith("http") and "token=" in shared
    links = cli.json("ports", web_sandbox["id"])
    assert [item["port"] for item in links["items"]] == [8000]
    assert "8000" in cli("sandboxes", "ports", web_sandbox["id"], "-o", "table").out
    assert "declares no ports" in cli("open", sandbox["id"], code=1).err
    assert "[HTTP 404]" in cli("open", web_sandbox["id"], "9999", code=1).err


def test_artifacts(cli: Cli, sandbox, tmp_path: Path) -> None:
    box = sandbox["id"]
    payload = os.urandom(50_000)
    (tmp_path / "report.bin").write_bytes(payload)
    cli("cp", str(tmp_path / "report.bin"), f"{box}:out/report.bin")
    captured = cli.json("artifacts", "create", box, "--path", "out/report.bin", "--capture")
    assert captured["name"] == "report.bin"
    assert cli.json("artifact", "get", captured["id"])["id"] == captured["id"]
    assert captured["id"] in [a["id"] for a in cli.json("artifacts", "list", box)["items"]]
    cli("artifacts", "download", captured["id"], str(tmp_path / "copy.bin"))
    assert (tmp_path / "copy.bin").read_bytes() == payload

    registered = cli.json(
        "artifacts",
        "create",
        box,
        "--uri",
        "upload://notes.txt",
        "--name",
        "notes.txt",
        "--content-type",
        "text/plain",
    )
    (tmp_path / "notes.txt").write_text("kept from here\n")
    uploaded = cli.json(
        "artifacts",
        "upload",
        registered["id"],
        "--file",
        str(tmp_path / "notes.txt"),
        "--content-type",
        "text/plain",
    )
    assert uploaded["id"] == registered["id"]
    assert cli("artifacts", "content", registered["id"]).out == "kept from here\n"
    stdin_one = cli.json("artifacts", "create", box, "--uri", "upload://in.txt")
    cli("artifacts", "upload", stdin_one["id"], "--stdin", input=b"from stdin")
    assert cli("artifacts", "download", stdin_one["id"], "-").out == "from stdin"

    later = cli.json("artifacts", "create", box, "--path", "out/report.bin")
    assert cli.json("artifacts", "capture", later["id"])["id"] == later["id"]
    assert "give --path or --uri" in cli("artifacts", "create", box, code=2).err
    assert cli("artifacts", "delete", later["id"]).out == "deleted\n"
