"""E2B compatibility: the control plane, envd and the code interpreter that the unmodified
`e2b` and `e2b-code-interpreter` SDKs speak, over mbox's services (docs/e2b.md).

Every call goes through the same service door as /v1: an E2B API key is an mbox token,
so roles, policy, quotas and the audit trail apply unchanged.
"""
