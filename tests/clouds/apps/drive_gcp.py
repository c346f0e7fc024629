"""Drive the functions through functions-framework's own app and Flask test client.

Usage: drive_gcp.py SOURCE TARGET SCENARIO; prints what was sent as JSON on the last
line of stdout after fnlens's own lines.
"""

import base64
import json
import sys
import uuid

import functions_framework

import fnlens

source, target, scenario = sys.argv[1:4]
client = functions_framework.create_app(target=target, source=source).test_client()
sent = []

for n in range(3):
    trace_id = uuid.uuid4().hex
    execution_id = uuid.uuid4().hex[:12]
    headers = {"Function-Execution-Id": execution_id}
    if scenario == "generated":  # no id: functions-framework makes one (LOG_EXECUTION_ID)
        del headers["Function-Execution-Id"]
    if scenario in ("traceparent", "generated"):
        parent = uuid.uuid4().hex[:16]
        headers["traceparent"] = f"00-{trace_id}-{parent}-01"
    else:  # the legacy header only: TRACE_ID/SPAN_ID;o=1, the span id in decimal
        decimal = str(int(uuid.uuid4().hex[:16], 16) or 1)
        headers["X-Cloud-Trace-Context"] = f"{trace_id}/{decimal};o={n % 2}"
    if target == "on_message":
        headers.update(
            {
                "ce-id": f"msg-{n}",
                "ce-source": "//pubsub.googleapis.com/projects/demo/topics/orders",
                "ce-type": "google.cloud.pubsub.topic.v1.messagePublished",
                "ce-specversion": "1.0",
                "Content-Type": "application/json",
            }
        )
        body = {"message": {"messageId": f"m{n}", "data": base64.b64encode(b"x").decode()}}
        response = client.post("/", headers=headers, data=json.dumps(body))
    else:
        response = client.get("/?name=ada", headers=headers)
    sent.append({"headers": headers, "status": response.status_code, "trace_id": trace_id})

fnlens.shutdown()
print(json.dumps(sent))
