"""envd, E2B's in-sandbox daemon, served by the mbox server for each sandbox: the Connect
services `process.Process` and `filesystem.Filesystem` (generated from E2B's .proto files
into `generated/`) and the plain HTTP `/files` and `/health`."""
