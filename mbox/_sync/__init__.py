# Generated from mbox/_async by scripts/generate_sync_client.py: do not edit.
