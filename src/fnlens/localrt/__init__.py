"""A Docker-free local Lambda runtime: the real ``awslambdaric`` in child processes.

``LocalLambda`` holds a function's versions, aliases and execution environments;
each environment is a ``python -m awslambdaric`` process talking to its own
Runtime API server on 127.0.0.1 and writing a Lambda-like log stream.
See ``docs/local-runtime.md``.
"""

from __future__ import annotations

from fnlens.localrt._environment import Environment, InvocationResult, RuntimeOptions
from fnlens.localrt._function import FunctionCode
from fnlens.localrt._managed import ManagedEnvironment
from fnlens.localrt._service import LATEST, Alias, LocalLambda

__all__ = [
    "LATEST",
    "Alias",
    "Environment",
    "FunctionCode",
    "InvocationResult",
    "LocalLambda",
    "ManagedEnvironment",
    "RuntimeOptions",
]
