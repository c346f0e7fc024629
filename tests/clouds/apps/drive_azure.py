"""Drive the function app the way the Python worker does: the app's registered
functions (``FunctionApp.get_functions()``), their user code called with bindings by
parameter name, built from azure.functions' own types.

``azure.functions.Context`` is an abstract class with no public constructor (the
worker's implementation lives in azure-functions-python-worker), so the context is a
small subclass of that public ABC implementing its documented properties.

The worker sends what reaches the root logger to the host with the invocation id it
keeps in ``context.thread_local_storage``; a root handler doing the same here prints
each log record with that id as one JSON line.

Usage: drive_azure.py APP_DIR; prints one JSON document (what was sent) on the last
line of stdout after fnlens's own lines.
"""

import asyncio
import inspect
import json
import logging
import sys
import threading
import uuid

import azure.functions as func
from azure.functions.blob import InputStream
from azure.functions.timer import TimerRequest

sys.path.insert(0, sys.argv[1])
import azure_app

import fnlens

CURRENT = threading.local()  # the worker's thread-local invocation id


class WorkerLogHandler(logging.Handler):
    def emit(self, record):
        entry = {
            "level": record.levelname,
            "logger": record.name,
            "invocation_id": getattr(CURRENT, "invocation_id", None),
            "line": json.loads(record.getMessage()),
        }
        sys.stdout.write(json.dumps(entry) + "\n")


logging.getLogger().addHandler(WorkerLogHandler())  # the root level stays WARNING


class TraceContext:
    """The documented ``func.Context.trace_context`` interface."""

    def __init__(self, trace_parent, trace_state):
        self.trace_parent = trace_parent
        self.trace_state = trace_state
        self.attributes = {}


class RetryContext:
    """The documented ``func.Context.retry_context`` interface."""

    def __init__(self, retry_count, max_retry_count):
        self.retry_count = retry_count
        self.max_retry_count = max_retry_count
        self.exception = None


class Context(func.Context):
    def __init__(self, function_name, trace_parent, retry_count=0):
        self._invocation_id = str(uuid.uuid4())
        self._function_name = function_name
        self._trace = TraceContext(trace_parent, "azure=1")
        self._retry = RetryContext(retry_count, 5)
        self._local = CURRENT

    @property
    def invocation_id(self):
        return self._invocation_id

    @property
    def thread_local_storage(self):
        return self._local

    @property
    def function_name(self):
        return self._function_name

    @property
    def function_directory(self):
        return sys.argv[1]

    @property
    def trace_context(self):
        return self._trace

    @property
    def retry_context(self):
        return self._retry


FUNCTIONS = {f.get_function_name(): f for f in azure_app.app.get_functions()}
sent = []


def invoke(name, binding, value, *, retry_count=0):
    function = FUNCTIONS[name]
    user = function.get_user_function()
    trace_id = uuid.uuid4().hex
    parent = uuid.uuid4().hex[:16]
    context = Context(name, f"00-{trace_id}-{parent}-01", retry_count)
    CURRENT.invocation_id = context.invocation_id  # as the worker does before a call
    kwargs = {binding: value}
    if "context" in inspect.signature(user).parameters:
        kwargs["context"] = context
    outcome = "success"
    status = None
    try:
        result = user(**kwargs)
        if inspect.isawaitable(result):
            result = asyncio.run(result)
        status = getattr(result, "status_code", None)
    except ValueError:
        outcome = "error"
    CURRENT.invocation_id = None
    with_context = "context" in kwargs
    sent.append(
        {
            "function": name,
            "invocation_id": context.invocation_id if with_context else None,
            "trace_id": trace_id if with_context else None,
            "parent": parent if with_context else None,
            "outcome": outcome,
            "status": status,
            "retry_count": retry_count,
        }
    )


def request(method, url, route_params=None, headers=None):
    return func.HttpRequest(
        method, url, headers=headers or {}, route_params=route_params or {}, body=b""
    )


BASE = "http://localhost:7071/api"
invoke("get_order", "req", request("GET", f"{BASE}/orders/42", {"order_id": "42"}))
invoke("get_order", "req", request("GET", f"{BASE}/orders/7", {"order_id": "7"}))
invoke("broken", "req", request("POST", "http://localhost:7071/api/broken"), retry_count=2)
invoke("health", "req", request("GET", "http://localhost:7071/api/health"))
invoke("on_queue", "msg", func.QueueMessage(id="m-1", body=b"order 42"))
invoke("every_five_minutes", "timer", TimerRequest(past_due=True))
invoke("on_blob", "blob", InputStream(data=b"12345", name="uploads/a.txt", length=5))
invoke("on_service_bus", "msg", func.ServiceBusMessage(body=b"paid"))
invoke("on_events", "events", [func.EventHubEvent(body=b"c") for _ in range(3)])
fnlens.shutdown()
print(json.dumps(sent))
