"""Standard-library logging lines carry the invocation's ids through the filter."""

from __future__ import annotations

import io
import logging

import fnlens
from fnlens.testing import LambdaContext


def test_filter_adds_correlation_fields_to_stdlib_records(telemetry):
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(fnlens.InvocationContextFilter())
    handler.setFormatter(
        logging.Formatter("%(request_id)s|%(trace_id)s|%(cold_start)s|%(message)s")
    )
    logger = logging.getLogger("fnlens-test-stdlib")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    try:

        @fnlens.instrument
        def app(event, context):
            logger.info("inside")

        app({}, LambdaContext())
        logger.info("outside")
    finally:
        logger.removeHandler(handler)
    inside, outside = stream.getvalue().splitlines()
    record = telemetry.invocation()
    assert inside == f"{record['request_id']}|{record['trace_id']}|True|inside"
    assert outside == "None|None|None|outside"
