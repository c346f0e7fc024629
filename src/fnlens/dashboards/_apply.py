"""Put a CloudWatch dashboard with boto3 ``PutDashboard``."""

from __future__ import annotations

import json
from typing import Any

from fnlens.exceptions import ApplyError


def put_dashboard(
    name: str,
    body: dict[str, Any],
    *,
    region: str,
    endpoint_url: str | None = None,
    client: Any | None = None,
) -> list[str]:
    """Put ``body`` as dashboard ``name``; returns CloudWatch's validation messages."""
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    if client is None:
        client = boto3.client("cloudwatch", region_name=region, endpoint_url=endpoint_url)
    try:
        response = client.put_dashboard(
            DashboardName=name, DashboardBody=json.dumps(body, separators=(",", ":"))
        )
    except ClientError as exc:
        error = exc.response.get("Error", {})
        raise ApplyError(
            f"PutDashboard failed: {error.get('Code')}: {error.get('Message')}"
        ) from exc
    except BotoCoreError as exc:
        raise ApplyError(f"PutDashboard failed: {exc}") from exc
    return [
        f"{m.get('DataPath', '')}: {m.get('Message', '')}".strip(": ")
        for m in response.get("DashboardValidationMessages", [])
    ]
