"""Runtimes: the only code that touches processes, namespaces or Kubernetes."""

from __future__ import annotations

from backend.runtime.base import Limits, RuntimeAdapter
from backend.settings import Settings


def create_runtime(settings: Settings) -> RuntimeAdapter:
    """The runtime selected by MBOX_RUNTIME."""
    if settings.runtime == "kubernetes":
        from backend.runtime.kubernetes import kubernetes_runtime

        return kubernetes_runtime(
            settings.kubeconfig, settings.kube_context, warm_pool=settings.kube_warm_pool
        )
    from backend.runtime.images import ImageStore
    from backend.runtime.local import LocalRuntime, sandbox_root

    limits = Limits(
        memory_bytes=settings.local_memory_bytes,
        processes=settings.local_max_processes,
        open_files=settings.local_max_open_files,
        file_size_bytes=settings.local_max_file_bytes,
        workspace_bytes=settings.local_workspace_bytes,
        bytes_per_inode=settings.local_workspace_bytes_per_inode,
        cpu_millis=round(settings.local_cpus * 1000),
    )
    root = settings.local_sandbox_dir or sandbox_root(settings.data_dir)
    insecure = tuple(
        host.strip() for host in settings.insecure_registries.split(",") if host.strip()
    )
    image_store = ImageStore(
        settings.image_dir or settings.data_dir / "images", settings.image_cache_bytes, insecure
    )
    return LocalRuntime(root, limits, secrets_dir=settings.secrets_dir, image_store=image_store)
