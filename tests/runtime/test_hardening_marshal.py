"""Issue 19, item 5: a result the Lambda runtime cannot serialise is recorded as the
``Runtime.MarshalError`` the caller gets, and the result itself is untouched."""

from __future__ import annotations

import decimal
import uuid

import pytest

import fnlens
from fnlens.runtime._marshal import marshal_error
from fnlens.testing import LambdaContext, events


class RuntimeClient:
    """The shape of the runtime client's next/post methods (the hook needs them)."""

    def wait_next_invocation(self):
        return None

    def post_invocation_result(self, invoke_id, result_data, content_type="application/json"):
        return None

    def post_invocation_error(self, invoke_id, error_response_data, xray_fault):
        return None


@pytest.fixture(params=["awslambdaric-marshaller", "no-marshaller"])
def runtime(request, hook_runtime_client):
    """A runtime client is loaded: with awslambdaric's own marshaller object (4.x), or
    without one (older clients: their encoder, simplejson)."""
    attrs = {}
    if request.param == "awslambdaric-marshaller":
        marshaller_module = pytest.importorskip("awslambdaric.lambda_runtime_marshaller")
        attrs["marshaller"] = marshaller_module.LambdaMarshaller()
    return hook_runtime_client(type("RuntimeClient", (RuntimeClient,), attrs))


def _cyclic():
    items: list = []
    items.append(items)
    return {"items": items}


UNSERIALISABLE = {
    "uuid": lambda: {"id": uuid.UUID(int=7)},
    "set": lambda: {"tags": {"a"}},
    "object": object,
    "tuple-key": lambda: {(1, 2): "pair"},
    "cycle": _cyclic,
    "deep": lambda: __import__("functools").reduce(lambda acc, _: [acc], range(5000), []),
}
SERIALISABLE = {
    "dict": lambda: {"statusCode": 200, "body": "x" * 1000},
    "decimal": lambda: {"price": decimal.Decimal("9.99"), "nan": decimal.Decimal("NaN")},
    "int-keys": lambda: {1: "a", None: "b", 2.5: "c", False: "d"},
    "big-int": lambda: {"n": 10**40},
    "nested": lambda: {"a": [{"b": (1, 2.0, None, True)}]},
    "str-subclass": lambda: {"k": type("S", (str,), {})("v")},
    "none": lambda: None,
}


@pytest.mark.parametrize("name", sorted(UNSERIALISABLE))
def test_unserialisable_results_are_recorded_as_marshal_errors(name, runtime, telemetry):
    result = UNSERIALISABLE[name]()

    @fnlens.instrument
    def handler(event, context):
        return result

    assert handler(events.api_gateway_v2("GET /x"), LambdaContext()) is result  # untouched
    record = telemetry.invocation()
    assert record["outcome"] == "error"
    assert record["level"] == "error"
    assert record["error_type"] == "Runtime.MarshalError"
    assert record["error_message"].startswith("Unable to marshal response: ")
    assert record["http_status_code"] == 500


@pytest.mark.parametrize("name", sorted(SERIALISABLE))
def test_serialisable_results_stay_successes(name, runtime, telemetry):
    result = SERIALISABLE[name]()

    @fnlens.instrument
    def handler(event, context):
        return result

    assert handler({}, LambdaContext()) is result
    record = telemetry.invocation()
    assert (record["outcome"], record["error_type"]) == ("success", None)


def test_the_check_agrees_with_the_runtime_encoder_on_every_sample(runtime):
    """Counted independently: the runtime's encoder itself says which samples fail."""
    if not hasattr(runtime, "marshaller"):
        pytest.skip("compared with awslambdaric's marshaller")
    for name, make in {**UNSERIALISABLE, **SERIALISABLE}.items():
        value = make()
        try:
            runtime.marshaller.marshal_response(value)
            fails = False
        except Exception:
            fails = True
        assert (marshal_error(value) is not None) == fails, name


def test_no_runtime_client_no_check(telemetry):
    """Called directly (tests, web frameworks) the result goes to no encoder."""

    @fnlens.instrument
    def handler(event, context):
        return {"id": uuid.UUID(int=1)}

    handler({}, LambdaContext())
    assert telemetry.invocation()["outcome"] == "success"
