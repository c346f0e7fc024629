"""awslambdaric's runtime client, in memory: the shape fnlens hooks for the window
after the response (``hook_runtime_client`` in tests/conftest.py installs it)."""

from __future__ import annotations

import time


class RuntimeClient:
    """awslambdaric's client shape (next / post result / post error), in memory."""

    def __init__(self) -> None:
        self.n = 0

    def wait_next_invocation(self):
        self.n += 1
        return f"r{self.n}"

    post_delay_s = 0.0

    def post_invocation_result(self, invoke_id, result_data, content_type="application/json"):
        time.sleep(self.post_delay_s)  # a slow response post

    def post_invocation_error(self, invoke_id, error_response_data, xray_fault):
        return None
