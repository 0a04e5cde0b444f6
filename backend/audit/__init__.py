from backend.audit import service

__all__ = ["service"]
