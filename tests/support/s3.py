"""A real S3 endpoint for tests: moto's standalone server over HTTP on 127.0.0.1.

It runs in a thread of the test process (no Docker, no network), on a port the kernel
picks, with one bucket. `overrides` are the MBOX_ARTIFACT_CONTENT_S3_* settings that
point a server at it; `client()` is a plain boto3 client for looking behind the store.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import boto3
from moto.server import ThreadedMotoServer

REGION = "us-east-1"
KEY = "testing"  # moto accepts any credentials; these are the conventional fakes


@dataclass
class S3Server:
    server: ThreadedMotoServer
    endpoint: str
    bucket: str = "mbox-test"

    @property
    def overrides(self) -> dict[str, Any]:
        """Settings overrides (for load_settings) that point S3 content here."""
        return {
            "artifact_content_s3_endpoint": self.endpoint,
            "artifact_content_s3_bucket": self.bucket,
            "artifact_content_s3_region": REGION,
            "artifact_content_s3_access_key_id": KEY,
            "artifact_content_s3_secret_access_key": KEY,
            "artifact_content_s3_force_path_style": True,
        }

    def client(self) -> Any:
        return boto3.session.Session().client(
            "s3",
            endpoint_url=self.endpoint,
            region_name=REGION,
            aws_access_key_id=KEY,
            aws_secret_access_key=KEY,
        )

    def stop(self) -> None:
        self.server.stop()


def start_s3_server() -> S3Server:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    s3 = S3Server(server, f"http://{host}:{port}")
    s3.client().create_bucket(Bucket=s3.bucket)
    return s3
