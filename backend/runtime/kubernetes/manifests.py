"""What a sandbox becomes in a cluster running agent-sandbox v0.5.6 (v1beta1): pure
functions from a `SandboxSpec` to the objects mbox writes.

Per namespace, a Namespace and the sandbox's ServiceAccount (token automount off). Per
template blueprint, a SandboxTemplate (the `workspace` container with a restrictive
security context, requests and limits, the workspace volume claim, the network policy,
the RuntimeClass, the template's Secrets and the project's credentials as references) and
its SandboxWarmPool (the
template's size, else the server's; 0 is a cold pool; claims reference a pool in v1beta1).
Per sandbox, a SandboxClaim with the mbox ids as labels and the lease as its shutdown
time. The agent-sandbox controller turns the claim into a Sandbox and its Pod.
"""

from __future__ import annotations

import hashlib
import re
from datetime import UTC
from ipaddress import IPv4Network, ip_network
from typing import Any

from backend.runtime.base import SECRETS_MOUNT_DIR, CredentialMount, SandboxSpec
from backend.runtime.egress import LINK_LOCAL, NOT_PUBLIC
from backend.runtime.kubernetes import names

SANDBOX_GROUP = "agents.x-k8s.io"
EXTENSIONS_GROUP = "extensions.agents.x-k8s.io"
VERSION = "v1beta1"
DEFAULT_WORKSPACE = "/workspace"
# A template's whole Secret is mounted at <SECRETS_DIR>/<its name>, a credential at
# <SECRETS_DIR>/<its slug> (and wins the path if both want it).
SECRETS_DIR = SECRETS_MOUNT_DIR
# DNS goes to the cluster's resolver in kube-system: without it no name resolves.
DNS_RULE = {
    "to": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}}}],
    "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}],
}


def namespace(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": name, "labels": names.labels()},
    }


def service_account(namespace: str, name: str) -> dict[str, Any]:
    """The sandbox's identity: no token is mounted, and mbox binds it to no role."""
    return {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": {"name": name, "namespace": namespace, "labels": names.labels()},
        "automountServiceAccountToken": False,
    }


def sandbox_template(spec: SandboxSpec) -> dict[str, Any]:
    """The template object for this sandbox's blueprint (named by the blueprint's hash)."""
    body = blueprint(spec)
    return {
        "apiVersion": f"{EXTENSIONS_GROUP}/{VERSION}",
        "kind": "SandboxTemplate",
        "metadata": {
            "name": template_name(spec),
            "namespace": spec.namespace,
            "labels": names.labels(template_id=spec.template_id),
        },
        "spec": body,
    }


def template_name(spec: SandboxSpec) -> str:
    slug = spec.template_slug or "template"
    shape: Any = blueprint(spec)
    if spec.warm_pool_size is not None:
        # Existing objects are left as they are: a new size must name a new template and
        # pool (the adapter then collects the old ones).
        shape = {"blueprint": shape, "warmPoolSize": spec.warm_pool_size}
    return names.runtime_name(slug, spec.template_id or spec.sandbox_id, shape)


def warm_pool(spec: SandboxSpec, replicas: int = 0) -> dict[str, Any]:
    """The template's pool: its warmPoolSize sandboxes kept ready, else `replicas` (the
    server's default); 0 is a cold pool."""
    if spec.warm_pool_size is not None:
        replicas = spec.warm_pool_size
    name = template_name(spec)
    return {
        "apiVersion": f"{EXTENSIONS_GROUP}/{VERSION}",
        "kind": "SandboxWarmPool",
        "metadata": {
            "name": name,
            "namespace": spec.namespace,
            "labels": names.labels(template_id=spec.template_id),
        },
        "spec": {"replicas": replicas, "sandboxTemplateRef": {"name": name}},
    }


def sandbox_claim(spec: SandboxSpec) -> dict[str, Any]:
    """The sandbox itself, as a claim on its template's pool."""
    claim: dict[str, Any] = {
        "apiVersion": f"{EXTENSIONS_GROUP}/{VERSION}",
        "kind": "SandboxClaim",
        "metadata": {
            "name": claim_name(spec),
            "namespace": spec.namespace,
            "labels": names.labels(
                project_id=spec.project_id,
                sandbox_id=spec.sandbox_id,
                template_id=spec.template_id,
            ),
        },
        "spec": {"warmPoolRef": {"name": template_name(spec)}},
    }
    if spec.expires_at is not None:  # the cluster ends it even while mbox is down
        shutdown = spec.expires_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        claim["spec"]["lifecycle"] = {"shutdownTime": shutdown, "shutdownPolicy": "Delete"}
    return claim


def claim_name(spec: SandboxSpec) -> str:
    return names.runtime_name(spec.slug, spec.sandbox_id)


def blueprint(spec: SandboxSpec) -> dict[str, Any]:
    """The SandboxTemplate spec: pod template, workspace claim, network policy."""
    body: dict[str, Any] = {
        "podTemplate": {
            "metadata": {"labels": names.labels(template_id=spec.template_id)},
            "spec": pod_spec(spec),
        },
        "networkPolicyManagement": "Managed",
        "networkPolicy": network_policy(spec),
    }
    storage = spec.requests.get("storage")
    if storage:
        body["volumeClaimTemplates"] = [
            {
                "metadata": {"name": names.CONTAINER},
                "spec": {
                    "accessModes": ["ReadWriteOnce"],
                    "resources": {"requests": {"storage": storage}},
                },
            }
        ]
    return body


def pod_spec(spec: SandboxSpec) -> dict[str, Any]:
    container: dict[str, Any] = {
        "name": names.CONTAINER,
        "image": spec.image,
        "workingDir": spec.working_dir or DEFAULT_WORKSPACE,
        "env": env(spec),
        "ports": [
            {"name": port.name, "containerPort": port.port, "protocol": port.protocol.upper()}
            for port in spec.ports
        ],
        "resources": resources(spec),
        # A main process that fails leaves its last log lines as the reason it ended.
        "terminationMessagePolicy": "FallbackToLogsOnError",
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "capabilities": {"drop": ["ALL"]},
            "seccompProfile": {"type": "RuntimeDefault"},
        },
    }
    if spec.command:
        container["command"] = list(spec.command)
    if spec.image_pull_policy:
        container["imagePullPolicy"] = spec.image_pull_policy
    mounts = volume_mounts(spec)
    if mounts:
        container["volumeMounts"] = mounts
    pod: dict[str, Any] = {
        "serviceAccountName": spec.service_account,
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,
        "containers": [container],
    }
    volumes = list(secret_volumes(spec).values()) + [
        volume for _, volume in credential_volumes(spec)
    ]
    if volumes:
        pod["volumes"] = volumes
    if spec.runtime_class_name:
        pod["runtimeClassName"] = spec.runtime_class_name
    pull_secrets = sorted({credential.secret for credential in spec.registry_credentials})
    if pull_secrets:  # the project's registry credentials: the kubelet pulls with them
        pod["imagePullSecrets"] = [{"name": name} for name in pull_secrets]
    return pod


def volume_mounts(spec: SandboxSpec) -> list[dict[str, Any]]:
    """The workspace claim's mount (when it has one), then each whole Secret's and each
    credential's, read-only (a path mounted twice would make the pod invalid)."""
    mounts = []
    if spec.requests.get("storage"):
        mounts.append({"name": names.CONTAINER, "mountPath": spec.working_dir or DEFAULT_WORKSPACE})
    taken = {credential.path for credential in spec.credentials}
    mounts += [
        {"name": volume["name"], "mountPath": secret_path(secret), "readOnly": True}
        for secret, volume in secret_volumes(spec).items()
        if secret_path(secret) not in taken
    ]
    for credential, volume in credential_volumes(spec):
        mount = {"name": volume["name"], "mountPath": credential.path, "readOnly": True}
        if credential.key:  # the key's file itself at the path
            mount["subPath"] = credential.key
        mounts.append(mount)
    return mounts


def env(spec: SandboxSpec) -> list[dict[str, Any]]:
    """The template's variables, then one per Secret key it references (the cluster reads
    the Secret, never mbox); a Secret's variable replaces a plain one of the same name."""
    found: dict[str, dict[str, Any]] = {
        name: {"name": name, "value": value} for name, value in sorted(spec.env.items())
    }
    for secret, key in spec.secret_refs:
        if key:
            name = secret_env_name(key)
            found.pop(name, None)
            found[name] = {
                "name": name,
                "valueFrom": {"secretKeyRef": {"name": secret, "key": key}},
            }
    return list(found.values())


def secret_env_name(key: str) -> str:
    """`tls.crt` -> `TLS_CRT`: a Secret key as an environment variable's name."""
    return re.sub(r"[^A-Z0-9_]", "_", key.upper())


def secret_volumes(spec: SandboxSpec) -> dict[str, dict[str, Any]]:
    """A volume per Secret referenced whole (no key), by Secret name. A volume's name is a
    DNS label and a Secret's name may not be one: it is named by a hash."""
    volumes = {}
    for secret, key in spec.secret_refs:
        if not key and secret not in volumes:
            digest = hashlib.sha256(secret.encode()).hexdigest()[:10]
            volumes[secret] = {"name": f"secret-{digest}", "secret": {"secretName": secret}}
    return volumes


def credential_volumes(spec: SandboxSpec) -> list[tuple[CredentialMount, dict[str, Any]]]:
    """A volume per credential: its Secret by name, only its key when it names one (the
    cluster reads the Secret, never mbox). Named by a hash of the slug, like Secrets'."""
    volumes = []
    for credential in spec.credentials:
        source: dict[str, Any] = {"secretName": credential.secret}
        if credential.key:
            source["items"] = [{"key": credential.key, "path": credential.key}]
        digest = hashlib.sha256(credential.slug.encode()).hexdigest()[:10]
        volumes.append((credential, {"name": f"credential-{digest}", "secret": source}))
    return volumes


def secret_path(secret: str) -> str:
    return f"{SECRETS_DIR}/{secret}"


def resources(spec: SandboxSpec) -> dict[str, Any]:
    """Requests as the template states them; memory is also the limit (as the local
    runtime caps it), CPU is not limited (throttling a shell helps nobody)."""
    requests = {name: spec.requests[name] for name in ("cpu", "memory") if spec.requests.get(name)}
    found: dict[str, Any] = {}
    if requests:
        found["requests"] = requests
    if "memory" in requests:
        found["limits"] = {"memory": requests["memory"]}
    return found


def network_policy(spec: SandboxSpec) -> dict[str, Any]:
    """The template's network policy as NetworkPolicy rules (agent-sandbox adds the pod
    selector and policy types). No ingress: previews reach a pod through the API server
    (port-forward, pod proxy), which NetworkPolicy does not govern. Egress:
    `restricted` none; `default` the public internet (and DNS); `open` everything but
    link-local (the metadata service). The template's allow list re-opens networks, its
    deny list always wins."""
    if spec.network_policy == "restricted":
        return {"ingress": [], "egress": []}
    deny = _networks(spec.egress_deny)
    closed = [*_networks(LINK_LOCAL), *deny]
    if spec.network_policy == "default":
        closed += _networks(NOT_PUBLIC)
    blocks = [_ip_block("0.0.0.0/0", closed)]
    blocks += [_ip_block(str(net), deny) for net in _networks(spec.egress_allow)]
    return {"ingress": [], "egress": [DNS_RULE, {"to": blocks}]}


def _networks(cidrs: Any) -> list[IPv4Network]:
    found = [ip_network(cidr, strict=False) for cidr in cidrs]
    return [net for net in found if isinstance(net, IPv4Network)]


def _ip_block(cidr: str, closed: list[IPv4Network]) -> dict[str, Any]:
    """An ipBlock of `cidr` minus the closed networks inside it (an `except` must lie
    within its block, or the API server refuses the policy)."""
    outer = ip_network(cidr)
    inside = sorted({str(net) for net in closed if net != outer and net.subnet_of(outer)})
    block: dict[str, Any] = {"cidr": cidr}
    if inside:
        block["except"] = inside
    return {"ipBlock": block}
