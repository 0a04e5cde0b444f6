"""Project credentials in what mbox writes to a cluster (backend/runtime/kubernetes/
manifests.py): Secret volumes by reference, read-only at /run/secrets/mbox/<slug> (one key
as a file, else the whole Secret as a directory); mbox never reads a Secret's value."""

from __future__ import annotations

import json

from backend.runtime.base import CredentialMount
from backend.runtime.kubernetes import manifests
from tests.kube.test_manifests_runtime_fields import invalid, pod_of, spec

CREDENTIALS = (
    CredentialMount("deploy-key", "deploy-keys", "id_ed25519"),
    CredentialMount("registry", "registry.auth"),
)


def mounts_of(pod: dict) -> list[dict]:
    return pod["containers"][0]["volumeMounts"]


def test_credentials_are_read_only_secret_volumes_by_reference():
    box = spec(credentials=CREDENTIALS)
    pod = pod_of(box)
    keyed, whole = pod["volumes"]
    assert keyed["secret"] == {
        "secretName": "deploy-keys",
        "items": [{"key": "id_ed25519", "path": "id_ed25519"}],
    }
    assert whole["secret"] == {"secretName": "registry.auth"}
    assert mounts_of(pod) == [
        {"name": "workspace", "mountPath": "/workspace"},
        {
            "name": keyed["name"],
            "mountPath": "/run/secrets/mbox/deploy-key",
            "readOnly": True,
            "subPath": "id_ed25519",  # a file at the path
        },
        {"name": whole["name"], "mountPath": "/run/secrets/mbox/registry", "readOnly": True},
    ]
    assert invalid(manifests.sandbox_template(box)) == []


def test_no_value_and_no_env_var_from_a_credential():
    """A credential is a mount only: nothing of it reaches the environment, and the
    manifest holds names, never data."""
    box = spec(credentials=CREDENTIALS)
    pod = pod_of(box)
    assert pod_of(spec())["containers"][0]["env"] == pod["containers"][0]["env"]
    written = json.dumps(manifests.sandbox_template(box))
    assert '"data"' not in written and "stringData" not in written


def test_credentials_are_part_of_the_blueprint():
    plain = spec()
    with_credentials = spec(credentials=CREDENTIALS, template_id=plain.template_id)
    assert manifests.template_name(with_credentials) != manifests.template_name(plain)
    assert "volumes" not in pod_of(spec(requests={}))


def test_a_credential_wins_the_path_of_a_template_secret_of_the_same_name():
    """Two mounts at one path would make the pod invalid: the credential's is kept."""
    box = spec(secret_refs=(("registry", ""),), credentials=CREDENTIALS[1:], requests={})
    [mount] = mounts_of(pod_of(box))
    assert mount["mountPath"] == "/run/secrets/mbox/registry"
    assert mount["name"].startswith("credential-")
    assert invalid(manifests.sandbox_template(box)) == []


def test_volume_names_are_dns_labels_even_for_long_slugs():
    slug = "a" * 63
    box = spec(credentials=(CredentialMount(slug, "s" * 253, "k" * 253),), requests={})
    [volume] = pod_of(box)["volumes"]
    assert len(volume["name"]) <= 63
    assert invalid(manifests.sandbox_template(box)) == []
