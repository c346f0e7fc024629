"""Know when the Lambda runtime has *sent* a response, not just when the handler returned.

The in-process extension should start draining once the caller has its response:
earlier, its thread competes with the runtime's own response post for the GIL, and
waking it costs the handler's thread a cross-CPU wake-up (tens of microseconds on a
virtual machine) before the response leaves. The Python runtime interface client
(``awslambdaric``, also inside AWS's managed Python runtimes) posts every response
and error through ``LambdaRuntimeClient.post_invocation_result`` /
``post_invocation_error``; wrapping those two methods gives a signal right after
the response is out, while the runtime is about to block waiting for the next
event. When no such client is loaded (another runtime client, handler called
directly), :func:`hook_runtime_responses` returns None and the caller falls back
to the end of the instrumented handler.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

# where the runtime client lives: the awslambdaric package, or top-level modules in
# older managed runtimes
MODULES = ("awslambdaric.lambda_runtime_client", "lambda_runtime_client")
CLASSES = ("BaseLambdaRuntimeClient", "LambdaRuntimeClient")
METHODS = ("post_invocation_result", "post_invocation_error")
_MARK = "__fnlens_response_hook__"


def _target_class() -> type | None:
    for module_name in MODULES:
        module = sys.modules.get(module_name)
        if module is None:
            continue
        for class_name in CLASSES:
            cls = getattr(module, class_name, None)
            if isinstance(cls, type) and all(m in vars(cls) for m in METHODS):
                return cls
    return None


def hook_runtime_responses(callback: Callable[[], None]) -> Callable[[], None] | None:
    """Call ``callback()`` after every response or error the runtime client posts.

    Returns a function that removes the hook, or None when no runtime client is
    loaded. ``callback`` failures are swallowed: the runtime loop never sees them.
    """
    cls = _target_class()
    if cls is None:
        return None
    originals: dict[str, Any] = {}
    for name in METHODS:
        original = vars(cls)[name]
        if getattr(original, _MARK, False):
            return None  # already hooked (one extension per process)
        originals[name] = original
        setattr(cls, name, _wrap(original, callback))

    def unhook() -> None:
        for name, original in originals.items():
            setattr(cls, name, original)

    return unhook


def _wrap(original: Callable[..., Any], callback: Callable[[], None]) -> Callable[..., Any]:
    def posted(self: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return original(self, *args, **kwargs)
        finally:
            try:
                callback()
            except Exception:
                pass

    setattr(posted, _MARK, True)
    posted.__wrapped__ = original  # type: ignore[attr-defined]
    posted.__name__ = getattr(original, "__name__", "posted")
    posted.__doc__ = getattr(original, "__doc__", None)
    return posted
