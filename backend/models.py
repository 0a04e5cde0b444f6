"""Every table of the product, imported in one place (for Alembic and for tests)."""

from sqlmodel import SQLModel

from backend.artifacts.models import (
    ArtifactBlobRow,
    ArtifactContentRow,
    ArtifactRow,
    ArtifactUsageRow,
)
from backend.audit.models import AuditChainHeadRow, AuditCheckpointRow, AuditEventRow
from backend.auth.models import ApiTokenRow, SignInRevocationRow
from backend.credentials.models import ProjectCredentialRow
from backend.idempotency.models import IdempotencyRecordRow
from backend.metrics.models import SandboxMetricSampleRow
from backend.policy.models import ProjectPolicyRow, ProjectQuotaPolicyRow
from backend.projects.models import ProjectRow
from backend.sandboxes.models import PreviewLinkRow, SandboxHoldRow, SandboxRow
from backend.sessions.models import RuntimeSessionRow, TerminalRecordingRow
from backend.storage.database import BlobChunkRow
from backend.tasks.models import ExecutionTaskRow
from backend.templates.models import TemplateRow

metadata = SQLModel.metadata

__all__ = [
    "ApiTokenRow",
    "ArtifactBlobRow",
    "ArtifactContentRow",
    "ArtifactRow",
    "ArtifactUsageRow",
    "AuditChainHeadRow",
    "AuditCheckpointRow",
    "AuditEventRow",
    "BlobChunkRow",
    "ExecutionTaskRow",
    "IdempotencyRecordRow",
    "PreviewLinkRow",
    "ProjectCredentialRow",
    "ProjectPolicyRow",
    "ProjectQuotaPolicyRow",
    "ProjectRow",
    "RuntimeSessionRow",
    "SandboxHoldRow",
    "SandboxMetricSampleRow",
    "SandboxRow",
    "SignInRevocationRow",
    "TemplateRow",
    "TerminalRecordingRow",
    "metadata",
]
