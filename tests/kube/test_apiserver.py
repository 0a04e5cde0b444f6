"""The test Kubernetes API server (tests/support/kube) as the official client sees it.

Every check goes through kubernetes.client (configured from the kubeconfig file the cluster
writes) or kubernetes.watch / kubernetes.stream, and asserts what a real API server does.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest
from kubernetes import client, config, stream, watch
from kubernetes.client import ApiException

from tests.support.kube import KubeCluster, Store
from tests.support.kube.schema import CRD_DIR_ENV

SANDBOX_GROUP = "agents.x-k8s.io"
EXTENSIONS_GROUP = "extensions.agents.x-k8s.io"
POD_SPEC = {"containers": [{"name": "main", "image": "busybox"}]}


class FakeKubelet:
    """Just enough kubelet to see what the API server hands over."""

    async def start(self, store) -> None:
        pass

    async def stop(self) -> None:
        pass

    async def log(self, pod: dict, query) -> bytes:
        return f"log of {pod['metadata']['name']}/{query.get('container')}\n".encode()

    async def exec(self, websocket, pod: dict, query) -> None:
        await websocket.accept(subprotocol="v4.channel.k8s.io")
        command = " ".join(query.getlist("command"))
        await websocket.send_bytes(b"\x01" + f"{pod['metadata']['name']} ran {command}".encode())
        await websocket.send_bytes(b"\x03" + json.dumps({"status": "Success"}).encode())
        await websocket.close()


@pytest.fixture(scope="module")
def cluster() -> Iterator[KubeCluster]:
    with KubeCluster(kubelet_factory=lambda store: FakeKubelet(), bookmark_interval=0.2) as kube:
        yield kube


def client_for(kube: KubeCluster, kubeconfig_dir) -> client.ApiClient:
    """An ApiClient configured the way the code under test configures one: from a kubeconfig."""
    path = kube.kubeconfig(kubeconfig_dir / "kubeconfig")
    configuration = client.Configuration()
    config.load_kube_config(config_file=str(path), client_configuration=configuration)
    return client.ApiClient(configuration)


@pytest.fixture(scope="module")
def api(cluster, tmp_path_factory) -> client.ApiClient:
    return client_for(cluster, tmp_path_factory.mktemp("kube"))


@pytest.fixture(scope="module")
def core(api) -> client.CoreV1Api:
    return client.CoreV1Api(api)


@pytest.fixture(scope="module")
def custom(api) -> client.CustomObjectsApi:
    return client.CustomObjectsApi(api)


@pytest.fixture
def ns(core) -> str:
    """A fresh namespace per test."""
    return core.create_namespace({"metadata": {"generateName": "t-"}}).metadata.name


def pod(name: str, labels: dict | None = None, **metadata) -> dict:
    return {"metadata": {"name": name, "labels": labels or {}, **metadata}, "spec": POD_SPEC}


def claim(name: str, spec: dict | None = None, version: str = "v1beta1") -> dict:
    return {
        "apiVersion": f"{EXTENSIONS_GROUP}/{version}",
        "kind": "SandboxClaim",
        "metadata": {"name": name},
        "spec": spec if spec is not None else {"warmPoolRef": {"name": "pool"}},
    }


def create_claim(custom, ns: str, body: dict, version: str = "v1beta1") -> dict:
    return custom.create_namespaced_custom_object(
        EXTENSIONS_GROUP, version, ns, "sandboxclaims", body
    )


def api_error(call, *args, **kwargs) -> tuple[int, dict]:
    with pytest.raises(ApiException) as raised:
        call(*args, **kwargs)
    return raised.value.status, json.loads(raised.value.body)


def owner(obj: dict) -> dict:
    metadata = obj["metadata"]
    return {
        "apiVersion": obj["apiVersion"],
        "kind": obj["kind"],
        "name": metadata["name"],
        "uid": metadata["uid"],
    }


def exists(read, *args) -> bool:
    try:
        read(*args)
    except ApiException as error:
        assert error.status == 404
        return False
    return True


# Create, read, replace


def test_create_answers_201_with_server_metadata(core, custom, ns):
    created = create_claim(custom, ns, claim("c1"))
    metadata = created["metadata"]
    assert metadata["uid"] and metadata["resourceVersion"] and metadata["creationTimestamp"]
    assert (metadata["generation"], metadata["namespace"]) == (1, ns)
    assert (
        custom.get_namespaced_custom_object(EXTENSIONS_GROUP, "v1beta1", ns, "sandboxclaims", "c1")
        == created
    )
    made = core.create_namespaced_pod(ns, pod("p1"))
    assert made.metadata.uid and made.status.phase == "Pending"


def test_generate_name_appends_five_characters(core, ns):
    made = core.create_namespaced_config_map(ns, {"metadata": {"generateName": "cfg-"}})
    assert made.metadata.name.startswith("cfg-") and len(made.metadata.name) == 9


def test_duplicate_create_is_409_already_exists(custom, ns):
    create_claim(custom, ns, claim("dup"))
    code, status = api_error(create_claim, custom, ns, claim("dup"))
    assert (code, status["reason"], status["kind"]) == (409, "AlreadyExists", "Status")
    assert status["message"] == f'sandboxclaims.{EXTENSIONS_GROUP} "dup" already exists'


def test_create_in_a_missing_namespace_is_404(core):
    code, status = api_error(core.create_namespaced_pod, "nowhere", pod("p"))
    assert (code, status["reason"], status["message"]) == (
        404,
        "NotFound",
        'namespaces "nowhere" not found',
    )


def test_replace_with_a_stale_resource_version_is_409_conflict(core, ns):
    first = core.create_namespaced_config_map(ns, {"metadata": {"name": "cm"}, "data": {"a": "1"}})
    first.data = {"a": "2"}
    core.replace_namespaced_config_map("cm", ns, first)
    first.data = {"a": "3"}  # still carries the first resourceVersion
    code, status = api_error(core.replace_namespaced_config_map, "cm", ns, first)
    assert (code, status["reason"]) == (409, "Conflict")
    assert "the object has been modified" in status["message"]
    assert core.read_namespaced_config_map("cm", ns).data == {"a": "2"}


def test_generation_follows_spec_changes_only(custom, ns):
    args = (EXTENSIONS_GROUP, "v1beta1", ns, "sandboxclaims", "gen")
    created = create_claim(custom, ns, claim("gen"))
    labelled = custom.patch_namespaced_custom_object(*args, {"metadata": {"labels": {"a": "b"}}})
    assert labelled["metadata"]["generation"] == 1
    assert labelled["metadata"]["resourceVersion"] != created["metadata"]["resourceVersion"]
    status = {"status": {"sandbox": {"name": "sb"}}}
    assert (
        custom.patch_namespaced_custom_object_status(*args, status)["metadata"]["generation"] == 1
    )
    respec = custom.patch_namespaced_custom_object(*args, {"spec": {"warmPoolRef": {"name": "p2"}}})
    assert respec["metadata"]["generation"] == 2


def test_a_write_that_changes_nothing_keeps_the_resource_version(custom, ns):
    args = (EXTENSIONS_GROUP, "v1beta1", ns, "sandboxclaims", "same")
    created = create_claim(custom, ns, claim("same"))
    again = custom.patch_namespaced_custom_object(
        *args, {"spec": {"warmPoolRef": {"name": "pool"}}}
    )
    assert again["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]


def test_status_subresource_is_separate_from_the_main_resource(custom, ns):
    args = (EXTENSIONS_GROUP, "v1beta1", ns, "sandboxclaims", "st")
    body = claim("st")
    body["status"] = {"sandbox": {"name": "ignored-on-create"}}
    assert "status" not in create_claim(custom, ns, body)
    custom.patch_namespaced_custom_object(*args, {"status": {"sandbox": {"name": "ignored"}}})
    assert "status" not in custom.get_namespaced_custom_object(*args)
    both = {"spec": {"warmPoolRef": {"name": "ignored"}}, "status": {"sandbox": {"name": "sb"}}}
    written = custom.patch_namespaced_custom_object_status(*args, both)
    assert written["status"] == {"sandbox": {"name": "sb"}}
    assert written["spec"]["warmPoolRef"] == {"name": "pool"}
    current = custom.get_namespaced_custom_object(*args)
    current["status"]["sandbox"]["name"] = "replaced"
    assert custom.replace_namespaced_custom_object_status(*args, current)["status"] == {
        "sandbox": {"name": "replaced"}
    }


# Selectors


def test_label_selectors_on_list(core, ns):
    for name, labels in [("a", {"app": "x", "tier": "web"}), ("b", {"app": "y"}), ("c", {})]:
        core.create_namespaced_pod(ns, pod(name, labels))

    def names(selector: str) -> list[str]:
        return [
            p.metadata.name for p in core.list_namespaced_pod(ns, label_selector=selector).items
        ]

    assert names("app=x") == names("app==x") == ["a"]
    assert names("app!=x") == ["b", "c"]
    assert names("app in (x, y)") == ["a", "b"]
    assert names("app notin (x)") == ["b", "c"]
    assert names("app") == ["a", "b"]
    assert names("!app") == ["c"]
    assert names("app,tier=web") == ["a"]
    code, status = api_error(core.list_namespaced_pod, ns, label_selector="app in x")
    assert (code, status["reason"]) == (400, "BadRequest")


def test_field_selectors_on_list(core, ns):
    core.create_namespaced_pod(ns, pod("one"))
    core.create_namespaced_pod(ns, pod("two"))
    core.patch_namespaced_pod_status("two", ns, {"status": {"phase": "Running"}})
    listed = core.list_pod_for_all_namespaces(field_selector=f"metadata.namespace={ns}")
    assert sorted(p.metadata.name for p in listed.items) == ["one", "two"]
    running = core.list_namespaced_pod(ns, field_selector="status.phase=Running")
    assert [p.metadata.name for p in running.items] == ["two"]
    others = core.list_namespaced_pod(ns, field_selector="metadata.name!=two")
    assert [p.metadata.name for p in others.items] == ["one"]
    code, status = api_error(core.list_namespaced_pod, ns, field_selector="spec.image=x")
    assert (code, status["reason"]) == (400, "BadRequest")


# Watch


def watch_events(list_call, *args, **kwargs) -> list[tuple[str, str]]:
    """(type, name) of every event until the watch's timeout ends it."""
    events = watch.Watch().stream(list_call, *args, **kwargs)
    return [(e["type"], e["raw_object"].get("metadata", {}).get("name", "")) for e in events]


def test_watch_from_zero_lists_then_follows_with_selectors(core, ns):
    core.create_namespaced_pod(ns, pod("in", {"w": "1"}))
    core.create_namespaced_pod(ns, pod("out"))
    stream_events = watch.Watch().stream(
        core.list_namespaced_pod, ns, label_selector="w=1", resource_version="0", timeout_seconds=2
    )
    first = next(stream_events)
    assert (first["type"], first["object"].metadata.name) == ("ADDED", "in")
    core.patch_namespaced_pod("out", ns, {"metadata": {"labels": {"w": "1"}}})
    core.patch_namespaced_pod("in", ns, {"metadata": {"labels": {"w": "2"}}})
    seen = [(e["type"], e["object"].metadata.name) for e in stream_events]
    # Starting or stopping to match the selector looks like ADDED and DELETED, as on a real server.
    assert seen == [("ADDED", "out"), ("DELETED", "in")]


def test_watch_resumes_after_a_resource_version(core, ns):
    core.create_namespaced_config_map(ns, {"metadata": {"name": "before"}})
    mark = core.list_namespaced_config_map(ns).metadata.resource_version
    core.create_namespaced_config_map(ns, {"metadata": {"name": "after"}})
    core.delete_namespaced_config_map("before", ns)
    events = watch_events(
        core.list_namespaced_config_map, ns, resource_version=mark, timeout_seconds=1
    )
    assert events == [("ADDED", "after"), ("DELETED", "before")]


def test_watch_from_an_expired_resource_version_is_410(tmp_path):
    with KubeCluster(history_limit=2) as small:
        core = client.CoreV1Api(client_for(small, tmp_path))
        mark = core.list_namespaced_config_map("default").metadata.resource_version
        for index in range(3):
            core.create_namespaced_config_map("default", {"metadata": {"name": f"c{index}"}})
        # The server sends one ERROR event carrying a 410 Expired Status; the client raises it.
        with pytest.raises(ApiException) as raised:
            watch_events(
                core.list_namespaced_config_map, "default", resource_version=mark, timeout_seconds=1
            )
        assert raised.value.status == 410 and raised.value.reason.startswith("Expired")


def test_timeout_seconds_ends_a_watch(core, ns):
    started = time.monotonic()
    assert watch_events(core.list_namespaced_secret, ns, timeout_seconds=1) == []
    assert 0.9 < time.monotonic() - started < 3


def test_bookmarks_carry_the_current_resource_version(core, ns):
    events = list(
        watch.Watch().stream(
            core.list_namespaced_secret, ns, allow_watch_bookmarks=True, timeout_seconds=1
        )
    )
    assert len(events) >= 2 and {e["type"] for e in events} == {"BOOKMARK"}
    current = core.list_namespaced_secret(ns).metadata.resource_version
    assert events[-1]["object"]["metadata"]["resourceVersion"] == current


def test_custom_object_watch_in_either_version(custom, ns):
    create_claim(custom, ns, claim("w1"))
    for version in ("v1beta1", "v1alpha1"):
        events = list(
            watch.Watch().stream(
                custom.list_namespaced_custom_object,
                EXTENSIONS_GROUP,
                version,
                ns,
                "sandboxclaims",
                field_selector="metadata.name=w1",
                timeout_seconds=1,
            )
        )
        assert [(e["type"], e["object"]["apiVersion"]) for e in events] == [
            ("ADDED", f"{EXTENSIONS_GROUP}/{version}")
        ]


# Patches


def test_merge_patch_on_a_custom_object(custom, ns):
    args = (EXTENSIONS_GROUP, "v1beta1", ns, "sandboxclaims", "mp")
    create_claim(
        custom,
        ns,
        claim("mp", {"warmPoolRef": {"name": "p"}, "env": [{"name": "A", "value": "1"}]}),
    )
    patched = custom.patch_namespaced_custom_object(
        *args, {"metadata": {"annotations": {"x": "y"}}, "spec": {"env": None}}
    )
    assert patched["metadata"]["annotations"] == {"x": "y"} and "env" not in patched["spec"]


def test_strategic_merge_patch_merges_containers_by_name(core, ns):
    two = {"containers": [{"name": "a", "image": "i1"}, {"name": "b", "image": "i2"}]}
    core.create_namespaced_pod(ns, {"metadata": {"name": "smp"}, "spec": two})
    # A dict body to a core patch goes out as application/strategic-merge-patch+json.
    patch = {
        "spec": {"containers": [{"name": "b", "image": "i3"}, {"name": "a", "$patch": "delete"}]}
    }
    patched = core.patch_namespaced_pod("smp", ns, patch)
    assert [(c.name, c.image) for c in patched.spec.containers] == [("b", "i3")]


def test_strategic_merge_patch_is_refused_for_custom_objects(custom, ns):
    create_claim(custom, ns, claim("nosmp"))
    code, status = api_error(
        custom.patch_namespaced_custom_object,
        EXTENSIONS_GROUP,
        "v1beta1",
        ns,
        "sandboxclaims",
        "nosmp",
        {"metadata": {"labels": {"a": "b"}}},
        _content_type="application/strategic-merge-patch+json",
    )
    assert (code, status["reason"]) == (415, "UnsupportedMediaType")


def test_json_patch_on_core_and_custom_objects(core, custom, ns):
    core.create_namespaced_config_map(ns, {"metadata": {"name": "jp"}, "data": {"a": "1"}})
    operations = [{"op": "replace", "path": "/data/a", "value": "2"}]
    # A list body to a core patch goes out as application/json-patch+json.
    assert core.patch_namespaced_config_map("jp", ns, operations).data == {"a": "2"}
    create_claim(custom, ns, claim("jp"))
    patched = custom.patch_namespaced_custom_object(
        EXTENSIONS_GROUP,
        "v1beta1",
        ns,
        "sandboxclaims",
        "jp",
        [{"op": "add", "path": "/metadata/labels", "value": {"k": "v"}}],
        _content_type="application/json-patch+json",
    )
    assert patched["metadata"]["labels"] == {"k": "v"}
    failing = [{"op": "test", "path": "/data/a", "value": "nope"}]
    code, _ = api_error(core.patch_namespaced_config_map, "jp", ns, failing)
    assert code == 422


# Deletion


def test_background_deletion_collects_dependents(core, ns):
    parent = core.create_namespaced_config_map(ns, {"metadata": {"name": "parent"}})
    ref = {"apiVersion": "v1", "kind": "ConfigMap", "name": "parent", "uid": parent.metadata.uid}
    core.create_namespaced_pod(ns, pod("child", ownerReferences=[ref]))
    core.delete_namespaced_config_map("parent", ns)
    assert not exists(core.read_namespaced_pod, "child", ns)


def test_foreground_deletion_keeps_the_owner_until_dependents_are_gone(core, custom, ns):
    args = (EXTENSIONS_GROUP, "v1beta1", ns, "sandboxclaims", "owner")
    owner_claim = create_claim(custom, ns, claim("owner"))
    core.create_namespaced_pod(
        ns, pod("held", ownerReferences=[owner(owner_claim)], finalizers=["test/hold"])
    )
    body = client.V1DeleteOptions(propagation_policy="Foreground")
    custom.delete_namespaced_custom_object(*args, body=body)
    waiting = custom.get_namespaced_custom_object(*args)
    assert waiting["metadata"]["deletionTimestamp"]
    assert waiting["metadata"]["finalizers"] == ["foregroundDeletion"]
    assert core.read_namespaced_pod("held", ns).metadata.deletion_timestamp
    core.patch_namespaced_pod("held", ns, {"metadata": {"finalizers": None}})
    assert not exists(core.read_namespaced_pod, "held", ns)
    assert not exists(custom.get_namespaced_custom_object, *args)


def test_orphan_deletion_keeps_dependents(core, ns):
    parent = core.create_namespaced_config_map(ns, {"metadata": {"name": "parent"}})
    ref = {"apiVersion": "v1", "kind": "ConfigMap", "name": "parent", "uid": parent.metadata.uid}
    core.create_namespaced_pod(ns, pod("kept", ownerReferences=[ref]))
    core.delete_namespaced_config_map("parent", ns, propagation_policy="Orphan")
    assert core.read_namespaced_pod("kept", ns).metadata.owner_references is None


def test_deleting_a_namespace_deletes_its_contents(core, custom):
    name = core.create_namespace({"metadata": {"generateName": "gone-"}}).metadata.name
    core.create_namespaced_pod(name, pod("p"))
    create_claim(custom, name, claim("c"))
    core.delete_namespace(name)
    assert not exists(core.read_namespace, name)
    assert core.list_namespaced_pod(name).items == []
    code, _ = api_error(core.create_namespaced_pod, name, pod("late"))
    assert code == 404


def test_finalizers_hold_an_object_until_removed(core, ns):
    core.create_namespaced_config_map(ns, {"metadata": {"name": "fin", "finalizers": ["x/y"]}})
    core.delete_namespaced_config_map("fin", ns)
    assert core.read_namespaced_config_map("fin", ns).metadata.deletion_timestamp
    # Strategic merge treats finalizers as a set: [] would add nothing; null removes them.
    core.patch_namespaced_config_map("fin", ns, {"metadata": {"finalizers": []}})
    assert core.read_namespaced_config_map("fin", ns).metadata.finalizers == ["x/y"]
    core.patch_namespaced_config_map("fin", ns, {"metadata": {"finalizers": None}})
    assert not exists(core.read_namespaced_config_map, "fin", ns)


def test_delete_collection_by_label(core, ns):
    for name, labels in [("a", {"batch": "1"}), ("b", {"batch": "1"}), ("c", {})]:
        core.create_namespaced_config_map(ns, {"metadata": {"name": name, "labels": labels}})
    core.delete_collection_namespaced_config_map(ns, label_selector="batch=1")
    assert [c.metadata.name for c in core.list_namespaced_config_map(ns).items] == ["c"]


def test_owner_references_must_name_their_owner(core, ns):
    # Empty rather than missing: the client's own models already refuse a missing uid.
    reference = {"apiVersion": "v1", "kind": "ConfigMap", "name": "parent", "uid": ""}
    code, status = api_error(core.create_namespaced_pod, ns, pod("p", ownerReferences=[reference]))
    assert (code, status["details"]["causes"][0]["field"]) == (422, "metadata.ownerReferences.uid")


# agent-sandbox CRDs


def template(name: str) -> dict:
    return {
        "apiVersion": f"{EXTENSIONS_GROUP}/v1beta1",
        "kind": "SandboxTemplate",
        "metadata": {"name": name},
        "spec": {"podTemplate": {"spec": POD_SPEC}},
    }


def test_agent_sandbox_manifests_are_accepted_in_both_versions(custom, ns):
    def create(group, version, plural, body):
        return custom.create_namespaced_custom_object(group, version, ns, plural, body)

    create(EXTENSIONS_GROUP, "v1beta1", "sandboxtemplates", template("tpl"))
    pool = {
        "apiVersion": f"{EXTENSIONS_GROUP}/v1beta1",
        "kind": "SandboxWarmPool",
        "metadata": {"name": "pool"},
        "spec": {"replicas": 0, "sandboxTemplateRef": {"name": "tpl"}},
    }
    create(EXTENSIONS_GROUP, "v1beta1", "sandboxwarmpools", pool)
    sandbox = {
        "apiVersion": f"{SANDBOX_GROUP}/v1beta1",
        "kind": "Sandbox",
        "metadata": {"name": "sb"},
        "spec": {"podTemplate": {"spec": POD_SPEC}, "operatingMode": "Suspended"},
    }
    create(SANDBOX_GROUP, "v1beta1", "sandboxes", sandbox)
    create_claim(custom, ns, claim("new"))
    old_style = claim("old", {"sandboxTemplateRef": {"name": "tpl"}}, version="v1alpha1")
    assert create_claim(custom, ns, old_style, "v1alpha1")["spec"]["warmpool"] == "default"
    seen = custom.get_namespaced_custom_object(SANDBOX_GROUP, "v1alpha1", ns, "sandboxes", "sb")
    assert seen["apiVersion"] == f"{SANDBOX_GROUP}/v1alpha1"
    assert seen["spec"]["operatingMode"] == "Suspended"  # one stored object, two views


@pytest.mark.parametrize(
    ("spec", "field", "reason"),
    [
        ({}, "spec.warmPoolRef", "FieldValueRequired"),
        ({"warmPoolRef": {"name": 7}}, "spec.warmPoolRef.name", "FieldValueInvalid"),
        (
            {"warmPoolRef": {"name": "p"}, "lifecycle": {"shutdownPolicy": "Later"}},
            "spec.lifecycle.shutdownPolicy",
            "FieldValueNotSupported",
        ),
        (
            {"warmPoolRef": {"name": "p"}, "lifecycle": {"shutdownTime": "tomorrow"}},
            "spec.lifecycle.shutdownTime",
            "FieldValueInvalid",
        ),
        (
            {"warmPoolRef": {"name": "p"}, "lifecycle": {"ttlSecondsAfterFinished": -1}},
            "spec.lifecycle.ttlSecondsAfterFinished",
            "FieldValueInvalid",
        ),
    ],
)
def test_invalid_claims_are_422_naming_the_field(custom, ns, spec, field, reason):
    code, status = api_error(create_claim, custom, ns, claim("bad", spec))
    assert (code, status["reason"]) == (422, "Invalid")
    assert status["details"]["causes"] == [
        {"reason": reason, "message": status["details"]["causes"][0]["message"], "field": field}
    ]
    assert status["message"].startswith(
        f'SandboxClaim.{EXTENSIONS_GROUP} "bad" is invalid: {field}'
    )


def test_schema_checks_reach_deep_fields(custom, ns):
    sandbox = {
        "apiVersion": f"{SANDBOX_GROUP}/v1beta1",
        "kind": "Sandbox",
        "metadata": {"name": "deep"},
        "spec": {
            "operatingMode": "Paused",
            "podTemplate": {
                "spec": {
                    "containers": [
                        {"name": "main", "resources": {"limits": {"cpu": "lots"}}},
                    ]
                }
            },
        },
    }
    code, status = api_error(
        custom.create_namespaced_custom_object, SANDBOX_GROUP, "v1beta1", ns, "sandboxes", sandbox
    )
    fields = {cause["field"] for cause in status["details"]["causes"]}
    assert code == 422
    assert fields == {
        "spec.operatingMode",
        "spec.podTemplate.spec.containers[0].resources.limits[cpu]",
    }


def test_unknown_fields_are_pruned_and_defaults_applied(custom, ns):
    lifecycle = {"shutdownPolicy": None}  # a null is pruned, then the default fills in
    body = claim(
        "pruned", {"warmPoolRef": {"name": "p", "extra": 1}, "lifecycle": lifecycle, "bogus": True}
    )
    body["topLevel"] = "x"
    created = create_claim(custom, ns, body)
    assert created["spec"] == {
        "warmPoolRef": {"name": "p"},
        "lifecycle": {"shutdownPolicy": "Retain"},
    }
    assert "topLevel" not in created


def test_volume_claim_templates_of_a_sandbox_are_immutable(custom, ns):
    args = (SANDBOX_GROUP, "v1beta1", ns, "sandboxes", "vct")
    templates = [{"metadata": {"name": "data"}, "spec": {"accessModes": ["ReadWriteOnce"]}}]
    sandbox = {
        "apiVersion": f"{SANDBOX_GROUP}/v1beta1",
        "kind": "Sandbox",
        "metadata": {"name": "vct"},
        "spec": {"podTemplate": {"spec": POD_SPEC}, "volumeClaimTemplates": templates},
    }
    custom.create_namespaced_custom_object(*args[:4], sandbox)
    code, status = api_error(
        custom.patch_namespaced_custom_object, *args, {"spec": {"volumeClaimTemplates": []}}
    )
    assert code == 422 and "volumeClaimTemplates is immutable" in status["message"]
    suspended = custom.patch_namespaced_custom_object(
        *args, {"spec": {"operatingMode": "Suspended"}}
    )
    assert suspended["metadata"]["generation"] == 2


def test_core_objects_get_the_real_minimal_validation(core, ns):
    code, status = api_error(
        core.create_namespaced_pod,
        ns,
        {"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c"}]}},
    )
    assert (code, status["details"]["causes"][0]["field"]) == (422, "spec.containers[0].image")
    code, status = api_error(
        core.create_namespaced_config_map, ns, {"metadata": {"name": "Bad_Name"}}
    )
    assert (code, status["details"]["causes"][0]["field"]) == (422, "metadata.name")


# Access, discovery, pod subresources, configuration


def test_requests_without_the_token_are_401(cluster):
    anonymous = client.CoreV1Api(client.ApiClient(client.Configuration(host=cluster.url)))
    code, status = api_error(anonymous.list_namespace)
    assert (code, status["reason"]) == (401, "Unauthorized")
    wrong = client.Configuration(host=cluster.url)
    wrong.api_key = {"BearerToken": "Bearer nope"}
    code, _ = api_error(client.CoreV1Api(client.ApiClient(wrong)).list_namespace)
    assert code == 401


def test_discovery_lists_groups_and_resources(api):
    groups = {g.name: g for g in client.ApisApi(api).get_api_versions().groups}
    assert groups[EXTENSIONS_GROUP].preferred_version.version == "v1beta1"
    assert [v.version for v in groups[SANDBOX_GROUP].versions] == ["v1beta1", "v1alpha1"]
    core_names = {r.name for r in client.CoreV1Api(api).get_api_resources().resources}
    assert {"namespaces", "pods", "pods/status", "pods/exec", "services"} <= core_names
    claims = client.CustomObjectsApi(api).get_api_resources(EXTENSIONS_GROUP, "v1alpha1")
    assert "sandboxclaims/status" in {r.name for r in claims.resources}
    assert client.VersionApi(api).get_code().major == "1"


def test_pod_log_and_exec_go_to_the_kubelet(core, ns):
    core.create_namespaced_pod(ns, pod("runner"))
    assert core.read_namespaced_pod_log("runner", ns, container="main") == "log of runner/main\n"
    output = stream.stream(
        core.connect_get_namespaced_pod_exec,
        "runner",
        ns,
        command=["echo", "hi"],
        stdout=True,
        stderr=True,
        stdin=False,
        tty=False,
    )
    assert output == "runner ran echo hi"
    code, _ = api_error(core.read_namespaced_pod_log, "ghost", ns)
    assert code == 404


def test_pod_subresources_without_a_kubelet_are_404(tmp_path):
    with KubeCluster() as bare:
        core = client.CoreV1Api(client_for(bare, tmp_path))
        core.create_namespaced_pod("default", pod("p"))
        code, status = api_error(core.read_namespaced_pod_log, "p", "default")
        assert (code, status["reason"]) == (404, "NotFound")


def test_a_missing_crd_directory_says_what_to_set(monkeypatch, tmp_path):
    monkeypatch.setenv(CRD_DIR_ENV, str(tmp_path / "absent"))
    with pytest.raises(FileNotFoundError, match=CRD_DIR_ENV):
        Store()


def test_a_watch_ends_with_its_queued_changes_before_the_bookmark():
    """A change that arrives as a watch times out is sent before the closing bookmark: the
    bookmark's version tells the watcher it has seen everything up to it (an informer
    resuming after it would otherwise lose the change)."""
    import asyncio

    from tests.support.kube.apiserver import ApiServer, Target
    from tests.support.kube.selectors import Selector

    async def watch_end() -> list[dict]:
        store = Store()
        server = ApiServer(store, token="t")
        resource = store.resource("Pod")
        queue = store.subscribe()
        store.create(resource, "default", pod("late"))  # queued, not yet sent
        target = Target(resource, "v1", "default")
        lines = server._watch_lines(target, Selector.parse(), queue, [], 0.0, True)
        return [json.loads(line) async for line in lines]

    events = asyncio.run(watch_end())
    assert [e["type"] for e in events] == ["ADDED", "BOOKMARK"]
    added, bookmark = events
    version = bookmark["object"]["metadata"]["resourceVersion"]
    assert added["object"]["metadata"]["resourceVersion"] == version
