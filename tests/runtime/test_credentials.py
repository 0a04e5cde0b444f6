"""Project credentials in local sandboxes, with real bubblewrap: a credential's secret is
mounted read-only at /run/secrets/mbox/<slug> from the server's secrets directory; the
sandbox reads that and nothing else of the directory, and cannot change it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from backend.audit.signing import KEY_FILE, signing_key
from backend.runtime.base import CredentialMount, RuntimeFailure
from backend.runtime.local import LocalRuntime
from backend.settings import Settings
from tests.conftest import sandbox_dir
from tests.runtime.conftest import LIMITS, run, spec

DEPLOY_VALUE = "deploy-key-value-4f1e"
OTHER_VALUE = "other-secret-value-77aa"
HOST_VALUE = "a-host-file-outside-the-secrets"


@pytest.fixture
def secrets(tmp_path: Path) -> Path:
    """<secrets>/<name>/<key> files, private to the server (0700 directory, 0600 files);
    `kube` is laid out as a Kubernetes Secret volume (keys are links into ..data)."""
    root = tmp_path / "secrets"
    files = {
        "deploy/id_ed25519": DEPLOY_VALUE,
        "registry/.dockerconfigjson": '{"auths": {}}',
        "registry/username": "robot",
        "other/token": OTHER_VALUE,
        "kube/..2026_12_03/token": "kube-token",
    }
    for name, value in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        path.write_text(value)
        path.chmod(0o600)
    (root / "kube" / "..data").symlink_to("..2026_12_03")
    (root / "kube" / "token").symlink_to("..data/token")
    root.chmod(0o700)
    return root


@pytest.fixture
async def local(tmp_path: Path, secrets: Path):
    runtime = LocalRuntime(sandbox_dir(tmp_path), LIMITS, secrets_dir=secrets)
    yield runtime
    await runtime.close()


MOUNTS = (
    CredentialMount("deploy-key", "deploy", "id_ed25519"),
    CredentialMount("registry", "registry"),
    CredentialMount("cluster", "kube"),
)


@pytest.fixture
async def box(local: LocalRuntime):
    sandbox = spec(credentials=MOUNTS)
    assert (await local.ensure(sandbox)).phase == "running"
    return sandbox


async def test_a_keyed_credential_is_a_file_and_a_whole_one_a_directory(local, box):
    code, out, err = await run(
        local,
        box.sandbox_id,
        "cat /run/secrets/mbox/deploy-key; echo; ls -A /run/secrets/mbox; "
        "ls -A /run/secrets/mbox/registry; cat /run/secrets/mbox/registry/username; echo; "
        "ls -A /run/secrets/mbox/cluster; cat /run/secrets/mbox/cluster/token",
    )
    assert code == 0, err
    assert out.split("\n") == [
        DEPLOY_VALUE,
        "cluster",
        "deploy-key",
        "registry",
        ".dockerconfigjson",  # a key that starts with one dot is a key
        "username",
        "robot",
        "token",  # the Kubernetes layout's ..data links are followed, not listed
        "kube-token",
    ]


async def test_attack_the_sandbox_cannot_write_its_credentials(local, box, secrets):
    attempts = """
        echo x > /run/secrets/mbox/deploy-key 2>/dev/null && echo WROTE
        echo x >> /run/secrets/mbox/registry/username 2>/dev/null && echo APPENDED
        chmod 666 /run/secrets/mbox/deploy-key 2>/dev/null && echo CHMOD
        rm -f /run/secrets/mbox/deploy-key 2>/dev/null
        test -e /run/secrets/mbox/deploy-key || echo RM
        mv /run/secrets/mbox/registry /run/secrets/mbox/moved 2>/dev/null && echo MOVED
        touch /run/secrets/mbox/new /run/secrets/mbox/registry/new 2>/dev/null && echo ADDED
        mkdir /run/secrets/mbox/dir 2>/dev/null && echo MKDIR
        mount -o remount,rw /run/secrets/mbox 2>/dev/null && echo REMOUNTED
        mount -t tmpfs none /run/secrets/mbox 2>/dev/null && echo MOUNTED
        umount /run/secrets/mbox/deploy-key 2>/dev/null && echo UNMOUNTED
        echo done
    """
    _, out, _ = await run(local, box.sandbox_id, attempts)
    assert out.strip() == "done"
    assert (secrets / "deploy" / "id_ed25519").read_text() == DEPLOY_VALUE  # host untouched
    assert (secrets / "registry" / "username").read_text() == "robot"
    _, out, _ = await run(local, box.sandbox_id, "cat /run/secrets/mbox/deploy-key")
    assert out == DEPLOY_VALUE


async def test_attack_the_sandbox_sees_no_other_secret_nor_the_directory(local, box, secrets):
    """Only the credentials it was given: not another secret of the directory, not the
    directory itself (by its host path, by the mount table, by searching the tree)."""
    searches = f"""
        cat {secrets}/other/token 2>/dev/null && echo READ-OTHER
        ls {secrets} 2>/dev/null && echo LISTED-DIR
        ls {secrets.parent} 2>/dev/null | grep -q secrets && echo SAW-DIR
        grep -rsl {OTHER_VALUE} /run /tmp /dev/shm /workspace /etc && echo FOUND
        grep -q {secrets} /proc/self/mountinfo /proc/1/cmdline /proc/1/environ && echo LEAKED-PATH
        echo done
    """
    _, out, _ = await run(local, box.sandbox_id, searches)
    assert out.strip() == "done"


async def test_a_missing_secret_fails_the_launch_naming_it(local, secrets):
    for mount, words in [
        (CredentialMount("gone", "not-there"), f'secret "not-there" not found in {secrets}'),
        (CredentialMount("gone", "deploy", "nokey"), 'secret "deploy" has no key "nokey"'),
    ]:
        sandbox = spec(credentials=(mount,))
        with pytest.raises(RuntimeFailure) as failure:
            await local.ensure(sandbox)
        assert words in str(failure.value) and 'credential "gone"' in str(failure.value)
        assert DEPLOY_VALUE not in str(failure.value)
        assert (await local.status(sandbox.sandbox_id)).phase == "missing"


async def test_attack_a_link_out_of_the_secrets_directory_is_refused(local, secrets, tmp_path):
    """A secret's key that is a link to a host file (put there by mistake, or by whoever
    could write the directory) must not hand that file to a sandbox."""
    outside = tmp_path / "host-file"
    outside.write_text(HOST_VALUE)
    (secrets / "evil").mkdir()
    (secrets / "evil" / "token").symlink_to(outside)
    (secrets / "evil" / "shadow").symlink_to("/etc/shadow")
    for mount in (CredentialMount("evil", "evil", "token"), CredentialMount("evil", "evil")):
        with pytest.raises(RuntimeFailure, match="leads outside"):
            await local.ensure(spec(credentials=(mount,)))


@pytest.mark.parametrize(
    "mount",
    [
        CredentialMount("escape", ".."),
        CredentialMount("escape", "deploy", ".."),
        CredentialMount("escape", "../..", "etc"),
        CredentialMount("escape", "deploy", "../other/token"),
    ],
)
async def test_attack_a_path_as_a_name_is_refused_by_the_runtime_too(local, mount):
    """The API refuses these; the runtime does not rely on it."""
    with pytest.raises(RuntimeFailure, match="not a plain name"):
        await local.ensure(spec(credentials=(mount,)))


async def test_no_credentials_no_secrets_mount(local):
    sandbox = spec()
    await local.ensure(sandbox)
    _, out, _ = await run(local, sandbox.sandbox_id, "test -e /run/secrets && echo THERE; echo ok")
    assert out.strip() == "ok"


# -- through the API and the reconciler ---------------------------------------------------


async def test_a_projects_sandbox_credentials_are_mounted_and_only_those(world, settings):
    secrets = settings.secrets_dir
    (secrets / "deploy").mkdir(parents=True, mode=0o700)
    (secrets / "deploy" / "id_ed25519").write_text(DEPLOY_VALUE)
    project = await world.post("/v1/projects", {"name": "creds", "defaultNamespace": "ns"})
    path = f"/v1/projects/{project['id']}/credentials"
    for name, usage in (("Deploy key", ["sandbox"]), ("Clone only", ["clone"])):
        ref = {"name": "deploy", "key": "id_ed25519"}
        await world.post(path, {"name": name, "type": "ssh", "secretRef": ref, "usage": usage})
    template = await world.post("/v1/templates", {"name": "creds", "image": "host"})
    sandbox = await world.post(
        "/v1/sandboxes",
        {"projectId": project["id"], "templateId": template["id"], "name": "box"},
    )
    await world.settle(sandbox["id"], "running")
    task = await world.start_task(
        sandbox, ["sh", "-c", "ls /run/secrets/mbox; cat /run/secrets/mbox/deploy-key"]
    )
    done = await world.finished(task)
    assert done["stdout"] == f"deploy-key\n{DEPLOY_VALUE}"
    summary = await world.get(f"/v1/sandboxes/{sandbox['id']}/boundary")
    mounted = {ref["slug"]: ref.get("mountPath") for ref in summary["credentialRefs"]}
    assert mounted == {"deploy-key": "/run/secrets/mbox/deploy-key", "clone-only": None}


async def test_a_missing_secret_fails_the_sandbox_with_a_clear_reason(world, settings):
    project = await world.post("/v1/projects", {"name": "missing", "defaultNamespace": "ns"})
    await world.post(
        f"/v1/projects/{project['id']}/credentials",
        {"name": "Token", "type": "generic", "secretRef": {"name": "absent"}, "usage": ["sandbox"]},
    )
    template = await world.post("/v1/templates", {"name": "missing", "image": "host"})
    sandbox = await world.post(
        "/v1/sandboxes",
        {"projectId": project["id"], "templateId": template["id"], "name": "box"},
    )
    failed = await world.settle(sandbox["id"], "failed")
    assert failed["statusReason"] == "start-failed"
    assert f'secret "absent" not found in {settings.secrets_dir}' in failed["statusMessage"]
    assert os.path.isabs(str(settings.secrets_dir))


async def test_attack_the_sandbox_cannot_read_the_audit_signing_key(local, box, tmp_path):
    """Attack: code in a sandbox reads the key that signs audit checkpoints (in the data
    dir, beside the sandboxes' own directories) and forges a checkpoint over a pruned,
    doctored history. Stopped by: the key file is the server's alone (0600)."""
    settings = Settings(data_dir=tmp_path, database_url=f"sqlite:///{tmp_path}/k.db")
    key = signing_key(settings).hex()
    path = tmp_path / KEY_FILE
    assert path.read_text().strip() == key
    code, out, err = await run(local, box.sandbox_id, f"cat {path}; ls -l {path}")
    assert code != 0
    assert key not in out + err
