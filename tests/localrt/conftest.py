"""Fixtures for the local runtime tests: a function over tests/localrt/handlers."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("awslambdaric")

from fnlens.localrt import FunctionCode, LocalLambda

HANDLERS = Path(__file__).parent / "handlers"


@pytest.fixture
def out_dir(tmp_path: Path) -> Path:
    return tmp_path / "logs"


@pytest.fixture
def make_fn(out_dir: Path):
    """Build LocalLambda functions over the test handlers; all are closed at the end."""
    made: list[LocalLambda] = []

    def make(timeout_s: float = 5.0, *, log_format: str = "text", **kwargs) -> LocalLambda:
        fn = LocalLambda("lrt-fn", out_dir=out_dir, **kwargs)
        fn.update_code(
            FunctionCode("lrt_app.handler", HANDLERS, timeout_s=timeout_s, log_format=log_format)
        )
        made.append(fn)
        return fn

    yield make
    for fn in made:
        fn.close()
