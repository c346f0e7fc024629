"""The process state fnlens owns, and one way to forget it (``fnlens.testing.reset``).

Each module that keeps process-wide state registers a small ``_reset`` here when it is
imported, so :func:`reset_all` is never a hand-kept list that drifts from the code.
Resets run in the reverse order of registration, like ``atexit``: a module is imported
(and registers) after the modules it uses, so its state goes before theirs. One reset
is marked ``first``: the exporters' shutdown, which still needs every queue, provider
and the runtime registry they were installed in, whenever its modules were imported.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

_lock = threading.Lock()
_RESETS: list[tuple[str, Callable[[], None], bool]] = []


def register_reset(name: str, reset: Callable[[], None], *, first: bool = False) -> None:
    """Have :func:`reset_all` call ``reset()``; ``name`` (the module) appears in errors.
    Registering the same name again replaces the earlier function (a reloaded module)."""
    with _lock:
        _RESETS[:] = [entry for entry in _RESETS if entry[0] != name]
        _RESETS.append((name, reset, first))


def _ordered() -> list[tuple[str, Callable[[], None], bool]]:
    with _lock:
        newest_first = list(reversed(_RESETS))
    return [e for e in newest_first if e[2]] + [e for e in newest_first if not e[2]]


def registered() -> list[str]:
    """The names of the registered resets, in the order :func:`reset_all` runs them."""
    return [name for name, _, _ in _ordered()]


def reset_all() -> None:
    """Run every registered reset, newest first. All of them run even when one fails;
    the failures are raised together afterwards (naming each module), so a test never
    starts from half-reset state without being told."""
    failures: list[str] = []
    for name, reset, _ in _ordered():
        try:
            reset()
        except Exception as exc:
            failures.append(f"{name}: {type(exc).__name__}: {exc}")
    if failures:
        raise RuntimeError("fnlens.testing.reset() could not reset " + "; ".join(failures))
