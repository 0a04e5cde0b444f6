"""The agent-sandbox controller simulator with the kubelet, through the official client:
templates, warm pools, claims (cold and warm), suspend/resume, expiry and the claim's
failure reasons."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from tests.kube.test_kubelet import wait_for
from tests.support.kube.cluster import KubeCluster
from tests.support.kube.controller import name_hash

CORE_GROUP = "agents.x-k8s.io"
EXTENSIONS_GROUP = "extensions.agents.x-k8s.io"
CONTAINER = {"name": "workspace", "image": "python:3.11-slim", "command": ["sleep", "infinity"]}


@pytest.fixture
def cluster(kube_cluster: KubeCluster) -> KubeCluster:
    """The run's test cluster (tests/conftest.py): every test works in namespaces of its own."""
    return kube_cluster


class Api:
    """The official client's calls these tests make, in one namespace of their own."""

    def __init__(self, cluster: KubeCluster) -> None:
        api_client = cluster.api_client()
        self.core = client.CoreV1Api(api_client)
        self.custom = client.CustomObjectsApi(api_client)
        self.networking = client.NetworkingV1Api(api_client)
        self.namespace = f"ctl-{uuid.uuid4().hex[:6]}"
        self.core.create_namespace({"metadata": {"name": self.namespace}})

    def _group(self, plural: str) -> str:
        return CORE_GROUP if plural == "sandboxes" else EXTENSIONS_GROUP

    def create(self, plural: str, body: dict) -> dict:
        return self.custom.create_namespaced_custom_object(
            self._group(plural), "v1beta1", self.namespace, plural, body
        )

    def get(self, plural: str, name: str) -> dict | None:
        try:
            return self.custom.get_namespaced_custom_object(
                self._group(plural), "v1beta1", self.namespace, plural, name
            )
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise

    def list(self, plural: str) -> list[dict]:
        group = self._group(plural)
        return self.custom.list_namespaced_custom_object(group, "v1beta1", self.namespace, plural)[
            "items"
        ]

    def patch(self, plural: str, name: str, body: dict) -> dict:
        return self.custom.patch_namespaced_custom_object(
            self._group(plural), "v1beta1", self.namespace, plural, name, body
        )

    def pod(self, name: str) -> client.V1Pod | None:
        found = self.core.list_namespaced_pod(
            self.namespace, field_selector=f"metadata.name={name}"
        )
        return found.items[0] if found.items else None

    def template(self, name: str = "tpl", **spec: Any) -> dict:
        body = {
            "metadata": {"name": name},
            "spec": {
                "podTemplate": {
                    "metadata": {"labels": {"team": "a", "agents.x-k8s.io/sneaky": "x"}},
                    "spec": {"containers": [CONTAINER]},
                },
                **spec,
            },
        }
        return self.create("sandboxtemplates", body)

    def pool(self, name: str = "pool", replicas: int = 0, template: str = "tpl") -> dict:
        spec = {"replicas": replicas, "sandboxTemplateRef": {"name": template}}
        return self.create("sandboxwarmpools", {"metadata": {"name": name}, "spec": spec})

    def claim(self, name: str, pool: str = "pool", **spec: Any) -> dict:
        body = {"metadata": {"name": name}, "spec": {"warmPoolRef": {"name": pool}, **spec}}
        return self.create("sandboxclaims", body)


@pytest.fixture
def api(cluster: KubeCluster) -> Api:
    return Api(cluster)


def condition(obj: dict | None, kind: str) -> dict:
    conditions = ((obj or {}).get("status") or {}).get("conditions") or []
    return next((c for c in conditions if c["type"] == kind), {})


def when_ready(api: Api, plural: str, name: str) -> dict:
    return wait_for(
        lambda: condition(found := api.get(plural, name), "Ready").get("status") == "True" and found
    )


def with_reason(api: Api, plural: str, name: str, reason: str) -> dict:
    return wait_for(
        lambda: condition(found := api.get(plural, name), "Ready").get("reason") == reason and found
    )


def controller_uid(obj: dict | client.V1Pod) -> str:
    refs = (
        obj["metadata"]["ownerReferences"]
        if isinstance(obj, dict)
        else obj.metadata.owner_references
    )
    (ref,) = [r for r in refs if (r["controller"] if isinstance(r, dict) else r.controller)]
    return ref["uid"] if isinstance(ref, dict) else ref.uid


def soon(seconds: int) -> str:
    return (datetime.now(UTC) + timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")


def test_a_cold_claim_gets_a_sandbox_and_a_ready_pod(api: Api):
    template = api.template()
    api.pool(replicas=0)
    claim = api.claim("job")

    ready = when_ready(api, "sandboxclaims", "job")
    assert ready["status"]["sandbox"]["name"] == "job"
    assert condition(ready, "Ready")["observedGeneration"] == 1
    sandbox = api.get("sandboxes", "job")
    labels = sandbox["metadata"]["labels"]
    assert labels["agents.x-k8s.io/launch-type"] == "cold"
    assert labels["agents.x-k8s.io/claim-uid"] == claim["metadata"]["uid"]
    assert labels["agents.x-k8s.io/sandbox-template-ref-hash"] == name_hash("tpl")
    assert sandbox["metadata"]["annotations"]["agents.x-k8s.io/sandbox-template-ref"] == "tpl"
    assert controller_uid(sandbox) == claim["metadata"]["uid"]
    pod = api.pod("job")
    assert controller_uid(pod) == sandbox["metadata"]["uid"]
    assert pod.metadata.labels["agents.x-k8s.io/sandbox-name-hash"] == name_hash("job")
    assert pod.metadata.labels["team"] == "a"
    assert "agents.x-k8s.io/sneaky" not in pod.metadata.labels
    assert pod.spec.automount_service_account_token is False
    assert (pod.spec.dns_policy, pod.spec.dns_config.nameservers) == (
        "None",
        ["8.8.8.8", "1.1.1.1"],
    )
    status = sandbox["status"]
    assert status["podIPs"] == [pod.status.pod_ip] == ready["status"]["sandbox"]["podIPs"]
    assert status["nodeName"] == "mbox-test-node"
    assert status["selector"] == f"agents.x-k8s.io/sandbox-name-hash={name_hash('job')}"
    assert condition(sandbox, "Ready")["reason"] == "DependenciesReady"
    assert condition(sandbox, "Suspended")["reason"] == "NotSuspended"
    assert condition(sandbox, "PodScheduled")["status"] == "True"
    templated = api.get("sandboxtemplates", "tpl")
    assert templated["metadata"]["labels"][
        "agents.x-k8s.io/sandbox-template-ref-hash"
    ] == name_hash("tpl")
    policy = api.networking.read_namespaced_network_policy("tpl-network-policy", api.namespace)
    assert policy.metadata.owner_references[0].uid == template["metadata"]["uid"]
    assert policy.spec.pod_selector.match_labels == {
        "agents.x-k8s.io/sandbox-template-ref-hash": name_hash("tpl")
    }
    assert policy.spec.ingress[0]._from[0].pod_selector.match_labels == {"app": "sandbox-router"}


def test_a_warm_pool_member_is_adopted_and_the_pool_replenished(api: Api):
    api.template()
    api.pool(replicas=1)
    pool = wait_for(
        lambda: (
            ((p := api.get("sandboxwarmpools", "pool")).get("status") or {}).get("readyReplicas")
            == 1
            and p
        )
    )
    assert pool["status"]["selector"] == f"agents.x-k8s.io/warm-pool-sandbox={name_hash('pool')}"
    (member,) = api.list("sandboxes")
    assert member["metadata"]["name"].startswith("pool-")
    assert member["metadata"]["labels"]["agents.x-k8s.io/launch-type"] == "warm"

    claim = api.claim("fast")
    ready = when_ready(api, "sandboxclaims", "fast")

    name = member["metadata"]["name"]
    assert ready["status"]["sandbox"]["name"] == name
    assert ready["metadata"]["annotations"]["agents.x-k8s.io/sandbox-name"] == name
    adopted = api.get("sandboxes", name)
    assert controller_uid(adopted) == claim["metadata"]["uid"]
    labels = adopted["metadata"]["labels"]
    assert labels["agents.x-k8s.io/claim-uid"] == claim["metadata"]["uid"]
    assert "agents.x-k8s.io/warm-pool-sandbox" not in labels
    pod_labels = wait_for(
        lambda: (
            (p := api.pod(name))
            and "agents.x-k8s.io/claim-uid" in p.metadata.labels
            and p.metadata.labels
        )
    )
    assert "agents.x-k8s.io/warm-pool-sandbox" not in pod_labels
    replenished = wait_for(
        lambda: [s for s in api.list("sandboxes") if s["metadata"]["name"] != name]
    )
    assert replenished[0]["metadata"]["name"].startswith("pool-")
    wait_for(lambda: api.get("sandboxwarmpools", "pool")["status"]["readyReplicas"] == 1)


def test_suspend_keeps_volumes_and_resume_starts_a_new_pod(api: Api):
    volume = {
        "metadata": {"name": "data"},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}},
    }
    container = CONTAINER | {"ports": [{"containerPort": 8888}]}
    spec = {
        "podTemplate": {"spec": {"containers": [container]}},
        "volumeClaimTemplates": [volume],
        "service": True,
    }
    api.create("sandboxes", {"metadata": {"name": "box"}, "spec": spec})
    ready = when_ready(api, "sandboxes", "box")
    assert ready["status"]["serviceFQDN"] == f"box.{api.namespace}.svc.cluster.local"
    service = api.core.read_namespaced_service("box", api.namespace)
    assert service.spec.cluster_ip == "None"
    assert service.spec.ports[0].name == "p-8888-tcp"
    pvc = api.core.read_namespaced_persistent_volume_claim("data-box", api.namespace)
    assert (pvc.status.phase, pvc.status.capacity) == ("Bound", {"storage": "1Gi"})
    first = api.pod("box")
    assert first.spec.volumes[0].persistent_volume_claim.claim_name == "data-box"

    api.patch("sandboxes", "box", {"spec": {"operatingMode": "Suspended"}})
    suspended = wait_for(
        lambda: (
            condition(s := api.get("sandboxes", "box"), "Suspended").get("status") == "True" and s
        )
    )
    assert condition(suspended, "Suspended")["reason"] == "PodTerminated"
    assert condition(suspended, "Ready")["reason"] == "SandboxSuspended"
    assert "podIPs" not in suspended["status"]
    assert api.pod("box") is None
    assert api.core.read_namespaced_persistent_volume_claim("data-box", api.namespace)

    api.patch("sandboxes", "box", {"spec": {"operatingMode": "Running"}})
    when_ready(api, "sandboxes", "box")
    assert api.pod("box").metadata.uid != first.metadata.uid


def test_a_pod_that_disappears_is_recreated(api: Api):
    api.create(
        "sandboxes",
        {
            "metadata": {"name": "box"},
            "spec": {"podTemplate": {"spec": {"containers": [CONTAINER]}}},
        },
    )
    when_ready(api, "sandboxes", "box")
    first = api.pod("box").metadata.uid

    api.core.delete_namespaced_pod("box", api.namespace)

    wait_for(
        lambda: (p := api.pod("box")) and p.metadata.uid != first and p.status.phase == "Running"
    )


def test_expiry_with_delete_and_retain(api: Api):
    pod_template = {"spec": {"containers": [CONTAINER]}}
    for policy in ("Delete", "Retain"):
        spec = {"podTemplate": pod_template, "shutdownTime": soon(2), "shutdownPolicy": policy}
        api.create("sandboxes", {"metadata": {"name": policy.lower()}, "spec": spec})
    api.template()
    api.pool()
    for policy in ("Delete", "DeleteForeground", "Retain"):
        lifecycle = {"shutdownTime": soon(2), "shutdownPolicy": policy}
        api.claim(f"claim-{policy.lower()}", lifecycle=lifecycle)

    retained = with_reason(api, "sandboxes", "retain", "SandboxExpired")
    assert set(retained["status"]) == {"conditions"}
    wait_for(lambda: api.get("sandboxes", "delete") is None)
    wait_for(lambda: api.pod("retain") is None and api.pod("delete") is None)
    with_reason(api, "sandboxclaims", "claim-retain", "ClaimExpired")
    wait_for(lambda: api.get("sandboxes", "claim-retain") is None)
    deleted = ("claim-delete", "claim-deleteforeground")
    wait_for(lambda: all(api.get("sandboxclaims", name) is None for name in deleted))
    assert all(api.get("sandboxes", name) is None for name in deleted)
    assert all(api.pod(name) is None for name in deleted)


def test_a_claim_waits_for_its_missing_pool_and_template(api: Api):
    api.claim("early", pool="later")
    with_reason(api, "sandboxclaims", "early", "WarmPoolNotFound")

    api.pool("later", template="missing")
    with_reason(api, "sandboxclaims", "early", "TemplateNotFound")

    api.template("missing")
    when_ready(api, "sandboxclaims", "early")


def test_claim_env_is_injected_only_when_the_template_allows(api: Api):
    api.template("closed")
    api.pool("closed-pool", template="closed")
    api.template("open", envVarsInjectionPolicy="Allowed")
    api.pool("open-pool", template="open")
    env = [{"name": "GREETING", "value": "hi"}]

    api.claim("refused", pool="closed-pool", env=env)
    api.claim("allowed", pool="open-pool", env=env)

    with_reason(api, "sandboxclaims", "refused", "EnvVarsInjectionRejected")
    when_ready(api, "sandboxclaims", "allowed")
    container = api.pod("allowed").spec.containers[0]
    assert [(e.name, e.value) for e in container.env] == [("GREETING", "hi")]


def test_a_recreate_pool_replaces_members_when_the_template_changes(api: Api):
    api.template()
    spec = {
        "replicas": 1,
        "sandboxTemplateRef": {"name": "tpl"},
        "updateStrategy": {"type": "Recreate"},
    }
    api.create("sandboxwarmpools", {"metadata": {"name": "pool"}, "spec": spec})
    (old,) = wait_for(lambda: api.list("sandboxes"))
    old_hash = old["metadata"]["labels"]["agents.x-k8s.io/sandbox-template-hash"]

    changed = CONTAINER | {"env": [{"name": "VERSION", "value": "2"}]}
    api.patch(
        "sandboxtemplates", "tpl", {"spec": {"podTemplate": {"spec": {"containers": [changed]}}}}
    )

    def replaced() -> dict | None:
        members = api.list("sandboxes")
        fresh = [s for s in members if s["metadata"]["uid"] != old["metadata"]["uid"]]
        return fresh[0] if len(members) == 1 and fresh else None

    new = wait_for(replaced)
    assert new["metadata"]["labels"]["agents.x-k8s.io/sandbox-template-hash"] != old_hash
    assert new["spec"]["podTemplate"]["spec"]["containers"][0]["env"] == changed["env"]


def test_name_hash_is_fnv1a_32_in_eight_hex_digits():
    assert name_hash("Hello world") == f"{1498229191:08x}"
    assert name_hash("") == "811c9dc5"
