"""The runtime inventory: what the runtime made, the orphan audit, gated cleanup."""
