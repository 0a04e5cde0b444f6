"""mbox SDK and CLI (HTTP client only; imports no server code)."""
