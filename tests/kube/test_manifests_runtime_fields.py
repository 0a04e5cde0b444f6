"""A template's RuntimeClass, warm pool size and Secret references in what mbox writes
(backend/runtime/kubernetes/manifests.py), checked against the agent-sandbox CRDs and the
test API server; and the scheduledAt a pod's PodScheduled condition gives."""

from __future__ import annotations

import kubernetes
import pytest

from backend.runtime.base import CredentialMount, RegistryCredential, SandboxSpec
from backend.runtime.kubernetes import manifests
from backend.runtime.kubernetes.status import observe
from tests.kube.test_kubernetes_runtime import spec as runtime_spec
from tests.support.kube import schema
from tests.support.kube.cluster import KubeCluster

SECRETS = (("git-token", "token"), ("registry", ".dockerconfigjson"), ("tls.certs", ""))


def spec(**fields) -> SandboxSpec:
    """The adapter tests' spec, with a secret-looking plain env var and a workspace volume."""
    env = {"MODE": "dev", "TOKEN": "plain"}
    requests = {"cpu": "500m", "memory": "256Mi", "storage": "1Gi"}
    return runtime_spec(**({"env": env, "requests": requests} | fields))


def invalid(obj: dict) -> list[str]:
    """What the API server would refuse in this object (CRD schema and metadata checks)."""
    crds = {crd.kind: crd for crd in schema.load_crds(schema.crd_directory())}
    crd = crds[obj["kind"]]
    version = obj["apiVersion"].rsplit("/", 1)[1]
    _, errors = schema.apply_schema(crd.schemas[version], obj, None)
    return [str(error) for error in [*schema.validate_metadata(obj["kind"], obj), *errors]]


def pod_of(box: SandboxSpec) -> dict:
    return manifests.sandbox_template(box)["spec"]["podTemplate"]["spec"]


def test_the_runtime_class_is_the_pods_and_part_of_the_blueprint():
    plain = spec()
    gvisor = spec(runtime_class_name="gvisor", template_id=plain.template_id)
    assert "runtimeClassName" not in pod_of(plain)
    assert pod_of(gvisor)["runtimeClassName"] == "gvisor"
    assert manifests.template_name(gvisor) != manifests.template_name(plain)
    assert invalid(manifests.sandbox_template(gvisor)) == []


def test_the_templates_warm_pool_size_wins_over_the_servers():
    assert manifests.warm_pool(spec(), 2)["spec"]["replicas"] == 2
    assert manifests.warm_pool(spec(warm_pool_size=5), 2)["spec"]["replicas"] == 5
    cold = manifests.warm_pool(spec(warm_pool_size=0), 2)
    assert cold["spec"]["replicas"] == 0 and invalid(cold) == []


def test_a_new_warm_pool_size_names_a_new_template_and_pool():
    """Existing objects are left as they are: a new size must be a new pool."""
    unset = spec()
    sized = [spec(warm_pool_size=size, template_id=unset.template_id) for size in (1, 2)]
    assert manifests.blueprint(sized[0]) == manifests.blueprint(unset)
    names = {manifests.template_name(box) for box in [unset, *sized]}
    assert len(names) == 3
    pool = manifests.warm_pool(sized[0])
    assert pool["metadata"]["name"] == pool["spec"]["sandboxTemplateRef"]["name"] in names


def test_a_keyed_secret_is_an_env_var_by_reference():
    env = pod_of(spec(secret_refs=SECRETS))["containers"][0]["env"]
    assert env == [
        {"name": "MODE", "value": "dev"},
        {"name": "TOKEN", "valueFrom": {"secretKeyRef": {"name": "git-token", "key": "token"}}},
        {
            "name": "_DOCKERCONFIGJSON",
            "valueFrom": {"secretKeyRef": {"name": "registry", "key": ".dockerconfigjson"}},
        },
    ]  # the Secret's TOKEN replaced the template's plain one; no value is ever read


def test_a_whole_secret_is_a_read_only_volume():
    box = spec(secret_refs=(*SECRETS, ("tls.certs", "")))  # referenced twice, mounted once
    pod = pod_of(box)
    [volume] = pod["volumes"]
    assert volume["secret"] == {"secretName": "tls.certs"}
    mounts = pod["containers"][0]["volumeMounts"]
    assert mounts == [
        {"name": "workspace", "mountPath": "/workspace"},
        {"name": volume["name"], "mountPath": "/run/secrets/mbox/tls.certs", "readOnly": True},
    ]
    assert manifests.template_name(box) != manifests.template_name(spec())
    assert invalid(manifests.sandbox_template(box)) == []


def test_secrets_without_a_workspace_claim_still_mount():
    box = spec(secret_refs=(("npmrc", ""),), requests={})
    [mount] = pod_of(box)["containers"][0]["volumeMounts"]
    assert mount["mountPath"] == "/run/secrets/mbox/npmrc"
    assert invalid(manifests.sandbox_template(box)) == []


def test_the_api_server_keeps_every_field_of_the_template(kube_cluster: KubeCluster):
    credentials = (CredentialMount("deploy", "deploy-keys", "id_ed25519"),)  # subPath kept
    box = spec(
        runtime_class_name="kata-qemu",
        warm_pool_size=1,
        secret_refs=SECRETS,
        credentials=credentials,
    )
    api = kube_cluster.api_client()
    kubernetes.client.CoreV1Api(api).create_namespace(manifests.namespace(box.namespace))
    custom = kubernetes.client.CustomObjectsApi(api)
    group, version = manifests.EXTENSIONS_GROUP, manifests.VERSION
    written = manifests.sandbox_template(box)
    custom.create_namespaced_custom_object(
        group, version, box.namespace, "sandboxtemplates", written
    )
    stored = custom.get_namespaced_custom_object(
        group, version, box.namespace, "sandboxtemplates", written["metadata"]["name"]
    )
    pod = stored["spec"]["podTemplate"]["spec"]
    assert pod["runtimeClassName"] == "kata-qemu"  # not pruned
    assert pod["volumes"] == pod_of(box)["volumes"]
    assert pod["containers"][0]["env"] == pod_of(box)["containers"][0]["env"]
    assert pod["containers"][0]["volumeMounts"] == pod_of(box)["containers"][0]["volumeMounts"]
    kubernetes.client.CoreV1Api(api).delete_namespace(box.namespace)


# -- scheduledAt ---------------------------------------------------------------------------


def claim(ready: bool) -> dict:
    status = "True" if ready else "False"
    condition = {"type": "Ready", "status": status, "lastTransitionTime": "2026-12-02T10:00:09Z"}
    return {
        "metadata": {"namespace": "team", "name": "box"},
        "status": {"conditions": [condition]},
    }


def pod(phase: str, scheduled: str) -> dict:
    condition = {
        "type": "PodScheduled",
        "status": scheduled,
        "lastTransitionTime": "2026-12-02T10:00:05Z",
    }
    return {"status": {"phase": phase, "conditions": [condition]}}


@pytest.mark.parametrize(
    ("ready", "phase", "scheduled", "expected"),
    [
        (False, "Pending", "False", None),
        (False, "Pending", "True", "2026-12-02T10:00:05+00:00"),
        (True, "Running", "True", "2026-12-02T10:00:05+00:00"),
    ],
)
def test_scheduled_at_is_when_the_pod_was_bound(ready, phase, scheduled, expected):
    observed = observe(claim(ready), None, pod(phase, scheduled))
    assert observed.phase == ("running" if ready else "starting")
    assert (observed.scheduled_at and observed.scheduled_at.isoformat()) == expected


def test_no_pod_is_not_scheduled():
    assert observe(claim(False), None, None).scheduled_at is None


def test_the_pull_policy_and_the_projects_registry_credentials_reach_the_pod():
    """imagePullPolicy on the container; registry credentials as imagePullSecrets (the
    kubelet pulls with the cluster's Secrets of those names: mbox never reads them)."""
    plain = spec()
    pulled = spec(
        image_pull_policy="Always",
        registry_credentials=(
            RegistryCredential("ghcr.io", "ghcr-login"),
            RegistryCredential("registry.example", "ghcr-login"),
        ),
        template_id=plain.template_id,
    )
    assert "imagePullPolicy" not in pod_of(plain)["containers"][0]
    assert "imagePullSecrets" not in pod_of(plain)
    assert pod_of(pulled)["containers"][0]["imagePullPolicy"] == "Always"
    assert pod_of(pulled)["imagePullSecrets"] == [{"name": "ghcr-login"}]
    assert invalid(manifests.sandbox_template(pulled)) == []
