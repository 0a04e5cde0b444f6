from backend.idempotency import service

__all__ = ["service"]
