"""The SDK against a live server: a sandbox's whole life through the handle, as a
program drives it (real HTTP, WebSockets, bubblewrap sandboxes)."""

from __future__ import annotations

import hashlib
import os
import time
import uuid
from itertools import islice

import pytest

from mbox import Mbox, errors, models


@pytest.fixture
def sandbox(mbox: Mbox, project):
    with mbox.sandboxes.create("shell", project=project.id) as sb:
        yield sb


def test_create_waits_until_running_reports_phases_and_deletes_on_exit(mbox, project) -> None:
    phases = []
    with mbox.sandboxes.create("shell", project=project.slug, on_progress=phases.append) as sb:
        assert sb.status == "running"
        assert sb.info.project_id == project.id
        sandbox_id = sb.id
    assert phases[0].status == "pending"
    assert phases[-1].status == "running" and str(phases[-1]).startswith("running")
    with pytest.raises(errors.NotFoundError):
        mbox.sandboxes.get(sandbox_id)


def test_keep_leaves_the_sandbox_and_get_finds_it(mbox, project) -> None:
    with mbox.sandboxes.create("shell", project=project.id, keep=True) as sb:
        pass
    again = mbox.sandboxes.get(sb.id)
    assert again.status == "running"
    stopped = again.stop(wait=True)
    assert stopped.status == "stopped"
    again.delete()


def test_run_returns_the_result_and_check_raises_with_the_exit_code(sandbox) -> None:
    result = sandbox.tasks.run(["sh", "-c", "echo out; echo err >&2; exit 3"])
    assert (result.status, result.exit_code) == ("failed", 3)
    assert (result.stdout, result.stderr) == ("out\n", "err\n")
    assert sandbox.run("echo $((6 * 7))").stdout == "42\n"  # a string runs in sh -c
    with pytest.raises(errors.TaskFailedError) as failed:
        sandbox.tasks.run(["sh", "-c", "exit 7"], check=True)
    assert failed.value.exit_code == 7


def test_run_streams_output_to_callbacks_as_it_comes(sandbox) -> None:
    seen: list[tuple[str, float]] = []
    started = time.monotonic()
    result = sandbox.tasks.run(
        "for i in 1 2 3; do echo line$i; sleep 0.3; done; echo done >&2",
        on_stdout=lambda text: seen.append((text, time.monotonic() - started)),
        on_stderr=lambda text: seen.append(("stderr:" + text, time.monotonic() - started)),
    )
    assert result.status == "succeeded"
    assert "".join(text for text, _ in seen if not text.startswith("stderr:")) == (
        "line1\nline2\nline3\n"
    )
    assert ("stderr:done\n") in [text for text, _ in seen]
    first_line_at = next(at for text, at in seen if text.startswith("line1"))
    assert first_line_at < result_duration(result) - 0.3  # before the task ended


def result_duration(task) -> float:
    return (task.finished_at - task.created_at).total_seconds()


def test_events_iterate_and_cancel_stops_a_running_task(mbox, sandbox) -> None:
    task = sandbox.tasks.start(["sh", "-c", "echo started; sleep 60"])
    events = sandbox.tasks.events(task.id)
    kinds = []
    for event in events:
        kinds.append(event.type)
        if event.type == "output" and "started" in (event.data or ""):
            sandbox.tasks.cancel(task.id)
        if event.type == "done":
            assert event.task.status == "canceled"
    assert kinds[0] == "snapshot" and kinds[-1] == "done"
    assert mbox.tasks.wait(task.id, timeout=10).status == "canceled"


def test_wait_gives_up_after_its_timeout_without_stopping_the_task(mbox, sandbox) -> None:
    task = sandbox.tasks.start(["sleep", "30"])
    with pytest.raises(errors.WaitTimeoutError):
        mbox.tasks.wait(task.id, timeout=0.5)
    assert mbox.tasks.get(task.id).status == "running"
    mbox.tasks.cancel(task.id)


def test_files_read_write_list_and_trees_round_trip(sandbox, tmp_path) -> None:
    sandbox.files.write("notes/hello.txt", "hello\n")
    assert sandbox.files.read_text("notes/hello.txt") == "hello\n"
    assert [entry["name"] for entry in sandbox.files.list("notes")] == ["hello.txt"]
    assert sandbox.files.exists("notes/hello.txt")
    source = tmp_path / "tree"
    (source / "a" / "b").mkdir(parents=True)
    files = {"top.bin": os.urandom(300_000), "a/one.txt": b"1\n", "a/b/two.txt": b"2\n"}
    for name, data in files.items():
        (source / name).write_bytes(data)
    written = sandbox.files.upload(source, "copy")
    assert sorted(written) == sorted(f"copy/{name}" for name in files)
    assert sandbox.run("cat copy/a/b/two.txt").stdout == "2\n"
    back = tmp_path / "back"
    sandbox.files.download("copy", back)
    for name, data in files.items():
        digest = hashlib.sha256((back / name).read_bytes()).hexdigest()
        assert digest == hashlib.sha256(data).hexdigest(), name
    sandbox.files.delete("notes/hello.txt")
    assert not sandbox.files.exists("notes/hello.txt")


def test_paths_outside_the_workspace_are_refused(sandbox) -> None:
    with pytest.raises(errors.ApiError) as refused:
        sandbox.files.read("../../../etc/passwd")
    assert refused.value.status in (400, 403, 404)


def test_terminal_attach_send_read_resize_and_reattach_by_id(sandbox) -> None:
    with sandbox.terminal.attach(rows=24, cols=80) as terminal:
        terminal.send("echo $((6*7))\n")
        terminal.read_until("42", timeout=10)
        terminal.resize(30, 100)
        terminal.send("stty size\n")
        terminal.read_until("30 100", timeout=10)
        terminal_id, cursor = terminal.id, terminal.cursor
    with sandbox.terminal.attach(terminal_id) as again:  # the whole scrollback
        assert again.id == terminal_id
        assert b"30 100" in again.read_until("30 100", timeout=10)
        again.send("exit 5\n")
        while again.read(timeout=10):
            pass
        assert again.exit_code == 5
    assert cursor > 0


def test_ports_preview_url_and_share_link(mbox, project) -> None:
    template = mbox.templates.create(
        f"web {uuid.uuid4().hex[:6]}",
        image="host",
        project_id=project.id,
        exposed_ports=[{"name": "http", "port": 8000}],
    )
    with mbox.sandboxes.create(template.id, project=project.id) as sb:
        url = sb.ports.url(8000)
        assert url == f"{mbox.config.api_url}/v1/sandboxes/{sb.id}/ports/8000/proxy/"
        assert sb.id.replace("-", "") in sb.ports.origin(8000)
        link = sb.ports.share(8000, expires_in_seconds=600, label="review")
        assert link.url and link.port == 8000
        assert [known.id for known in sb.ports.links()] == [link.id]
        assert sb.ports.revoke(link.id).revoked_at is not None
        with pytest.raises(errors.NotFoundError):
            sb.ports.url(9999)


def test_artifacts_capture_upload_and_download_with_digest(sandbox, tmp_path) -> None:
    data = os.urandom(200_000)
    sandbox.files.write("out/result.bin", data)
    captured = sandbox.artifacts.capture("out/result.bin")
    assert captured.raw["retainedContent"]["sha256"] == hashlib.sha256(data).hexdigest()
    assert sandbox.artifacts.download(captured.id) == data
    local = tmp_path / "report.txt"
    local.write_text("report\n")
    uploaded = sandbox.artifacts.upload("report.txt", local, content_type="text/plain")
    target = tmp_path / "downloaded.txt"
    sandbox.artifacts.download(uploaded.id, target)
    assert target.read_text() == "report\n"
    assert {a.id for a in sandbox.artifacts.list()} >= {captured.id, uploaded.id}


def test_errors_are_typed_and_carry_the_servers_words(mbox, project) -> None:
    with pytest.raises(errors.NotFoundError) as missing:
        mbox.sandboxes.get(str(uuid.uuid4()))
    assert missing.value.status == 404 and missing.value.request_id
    with pytest.raises(errors.BadRequestError) as bad:
        mbox.projects.create("")
    assert "name" in bad.value.message
    with pytest.raises(errors.AuthenticationError):
        Mbox(token="not-a-token").projects.list()


def test_policy_denial_carries_the_rules(mbox, project) -> None:
    mbox.projects.set_policy(
        project.id, enforcement="enforced", allowed_image_prefixes=["registry.example/"]
    )
    with pytest.raises(errors.PolicyDeniedError) as denied:
        mbox.sandboxes.create("shell", project=project.id)
    assert denied.value.status == 403
    assert denied.value.denial["operation"]
    assert denied.value.rules and all("message" in rule for rule in denied.value.rules)


def test_a_repeated_create_with_one_idempotency_key_makes_one_sandbox(mbox, project) -> None:
    key = uuid.uuid4().hex
    first = mbox.sandboxes.create("shell", project=project.id, idempotency_key=key, wait=False)
    second = mbox.sandboxes.create("shell", project=project.id, idempotency_key=key, wait=False)
    assert first.id == second.id
    assert len(mbox.sandboxes.list(project_id=project.id)) == 1
    first.delete()


def test_compatibility_and_identity(mbox) -> None:
    assert mbox.assert_compatible(required_capabilities=["sandboxes"]).ok
    with pytest.raises(errors.CompatibilityError) as incompatible:
        mbox.assert_compatible(required_capabilities=["time-travel"])
    assert incompatible.value.result.missing_capabilities == ["time-travel"]
    assert mbox.whoami().role == "admin"


def test_uploading_a_tree_never_follows_its_symlinks(sandbox, tmp_path) -> None:
    """Attack: a checked-out repository holds `creds -> ~/.aws/credentials`; copying the
    tree into a sandbox (where unreviewed code runs) must not carry the secret along."""
    secret = tmp_path / "home" / "credentials"
    secret.parent.mkdir()
    secret.write_text("aws_secret_access_key = SECRET-VALUE\n")
    repo = tmp_path / "repo"
    (repo / "src").mkdir(parents=True)
    (repo / "src" / "main.py").write_text("print('hi')\n")
    (repo / "creds").symlink_to(secret)
    (repo / "home-dir").symlink_to(secret.parent, target_is_directory=True)
    written = sandbox.files.upload(repo, "repo")
    assert written == ["repo/src/main.py"]
    found = sandbox.run("grep -r SECRET-VALUE repo; ls -A repo").stdout
    assert "SECRET-VALUE" not in found and "creds" not in found


def test_files_larger_than_a_read_buffer_download_streamed(sandbox, tmp_path) -> None:
    made = sandbox.run("head -c 20000000 /dev/urandom > big.bin && sha256sum big.bin", check=True)
    expected = made.stdout.split()[0]
    target = tmp_path / "big.bin"
    assert sandbox.files.download("big.bin", target) == [target]
    assert hashlib.sha256(target.read_bytes()).hexdigest() == expected
    with pytest.raises(errors.BadRequestError, match="not a regular file"):
        sandbox.files.read("")  # the workspace itself: list it instead


def test_the_less_travelled_operations_answer_with_their_models(mbox, project, sandbox) -> None:
    """Every wrapper the flows above do not use, called once against the server: a wrong
    path or model fails here rather than in a user's program."""
    minted = mbox.tokens.create(
        "sdk-test", role="viewer", principal="sdk-bot", project_ids=[project.id]
    )
    assert minted.token.startswith("mbx_")
    assert mbox.tokens.get(minted.id).name == "sdk-test"
    assert minted.id in {token.id for token in mbox.tokens.list()}
    assert mbox.tokens.revoke(minted.id).revoked_at is not None

    task = sandbox.tasks.run("echo output-of-record")
    assert mbox.tasks.output(task.id) == b"output-of-record\n"
    assert mbox.tasks.output(task.id, offset=7) == b"of-record\n"
    assert mbox.tasks.artifacts(task.id) == []

    assert mbox.projects.usage(project.id).raw["projectId"] == project.id
    assert mbox.projects.artifact_usage(project.id).raw
    quota = mbox.projects.set_quota_policy(
        project.id, enforcement="enforced", max_running_sandboxes=5
    )
    assert (
        mbox.projects.quota_policy(project.id).max_running_sandboxes
        == quota.max_running_sandboxes
        == 5
    )
    preview = mbox.projects.preview_policy(
        project.id, {"enforcement": "enforced", "allowed_image_prefixes": ["nowhere/"]}
    )
    assert preview.raw  # what such a policy would refuse, nothing saved
    assert mbox.projects.policy(project.id).enforcement != "enforced"

    assert mbox.audit.verify().raw
    events = mbox.audit.events(project_id=project.id, limit=2)
    assert len(events) == 2
    walked = [
        event.id for event in islice(mbox.audit.iter_events(project_id=project.id, limit=2), 5)
    ]
    assert len(walked) == len(set(walked)) == 5  # across pages, no repeats
    every = {event.id for event in mbox.audit.iter_events(project_id=project.id)}
    exported = [record["id"] for record in mbox.audit.export(project_id=project.id)]
    assert len(exported) == len(every) and set(exported) == every  # the whole trail

    with sandbox.terminal.attach() as terminal:
        terminal.send("exit\n")
        while terminal.read(timeout=10):
            pass
        session_id = terminal.session_id
    assert mbox.sessions.get(session_id).raw["sandboxId"] == sandbox.id
    recording = mbox.sessions.recording(session_id)
    assert recording.startswith(b'{"version": 2')
    assert mbox.runtime.resources().raw is not None
    images = mbox.runtime.images()
    assert isinstance(images, models.CachedImageList)
    assert images.adapter == "local" and images.kept is True
    assert isinstance(images.items, list)
    assert all(isinstance(image, models.CachedImage) for image in images.items)


def test_a_template_with_a_build_recipe_reads_back_and_reports_its_build(mbox, project) -> None:
    """A recipe and a pull policy round-trip through create, get and update, and the
    template's build answers `not-built` until a launch builds it (none is launched here:
    a build takes half a minute)."""
    template = mbox.templates.create(
        f"built {uuid.uuid4().hex[:6]}",
        image="app:1",
        project_id=project.id,
        image_pull_policy="IfNotPresent",
        build={"base": "debian:bookworm", "packages": ["hello"]},
    )
    read = mbox.templates.get(template.id)
    assert read.image_pull_policy == "IfNotPresent"
    assert isinstance(read.build, models.BuildRecipe)
    assert read.build.base == "debian:bookworm"
    assert read.build.packages == ["hello"]
    assert read.build.files == [] and read.build.user == "user"

    build = mbox.templates.build(template.id)
    assert isinstance(build, models.TemplateBuild)
    assert build.template_id == template.id
    assert build.state == "not-built"
    assert build.reference and build.reference.startswith("build:sha256:")
    assert build.digest is None and build.log == ""

    with pytest.raises(errors.BadRequestError, match="imagePullPolicy must be"):
        mbox.templates.update(template.id, image_pull_policy="Sometimes")
    changed = mbox.templates.update(template.id, image_pull_policy="", build={})
    assert changed.image_pull_policy is None and changed.build is None
    assert mbox.templates.build(template.id).state == "none"
    mbox.templates.delete(template.id)
