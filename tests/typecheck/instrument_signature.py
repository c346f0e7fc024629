"""Checked by mypy (``tests/test_typing.py``), never imported by the suite.

A handler decorated with ``fnlens.instrument`` — bare, with settings, sync or async —
keeps its parameters and its result for type checkers. Each ``type: ignore`` below
marks a call that must be an error: mypy runs with ``warn_unused_ignores`` (strict),
so if ``instrument`` stopped carrying the signature (returned ``Any``), the ignore
would go unused and the check would fail.
"""

from __future__ import annotations

from typing import Any

from typing_extensions import assert_type

import fnlens
from fnlens.testing import LambdaContext, capture, events


@fnlens.instrument
def bare(event: dict[str, Any], context: LambdaContext) -> dict[str, int]:
    return {"statusCode": 200}


@fnlens.instrument(service="orders", flush_budget_ms=5.0, redact_keys=["x-secret"])
def configured(event: dict[str, Any], context: object, *, extra: int = 0) -> str:
    return "ok"


@fnlens.instrument
async def asynchronous(event: dict[str, Any], context: object) -> int:
    return 1


def sync_handlers_keep_their_signature() -> None:
    assert_type(bare(events.api_gateway_v2(), LambdaContext()), dict[str, int])
    assert_type(configured({}, None, extra=2), str)
    bare("not an event", LambdaContext())  # type: ignore[arg-type]
    configured({})  # type: ignore[call-arg]
    configured({}, None, extra="two")  # type: ignore[arg-type]


async def async_handlers_keep_their_signature() -> None:
    assert_type(await asynchronous({}, None), int)
    await asynchronous({})  # type: ignore[call-arg]


def settings_are_checked() -> None:
    fnlens.instrument(servce="typo")  # type: ignore[call-overload]
    fnlens.instrument(flush_budget_ms="5")  # type: ignore[call-overload]


def the_test_kit_is_typed() -> None:
    with capture() as telemetry:
        bare(events.sqs(["{}"]), LambdaContext(function_name="orders"))
    assert_type(telemetry.invocation(), dict[str, Any])
    assert_type(fnlens.flush(0.5), float)
    assert_type(fnlens.current_context(), dict[str, Any])
