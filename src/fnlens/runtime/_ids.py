"""Trace and span ids, and conversions between W3C and AWS X-Ray formats."""

from __future__ import annotations

import os
import random

_rng = random.Random(int.from_bytes(os.urandom(16), "big"))


def reseed() -> None:
    """Reseed after a SnapStart restore or fork, so restored copies never share ids."""
    _rng.seed(int.from_bytes(os.urandom(16), "big"))


if hasattr(os, "register_at_fork"):  # a forked child (multiprocessing, pre-forking servers)
    os.register_at_fork(after_in_child=reseed)


def _register_snapstart_hook() -> None:
    """With ``snapshot_restore_py`` (Lambda SnapStart for Python) present, every restored
    copy of a snapshot reseeds: ids are never repeated across restored environments."""
    try:
        from snapshot_restore_py import register_after_restore
    except ImportError:
        return
    try:
        register_after_restore(reseed)
    except Exception:
        pass


_register_snapstart_hook()


def new_trace_id() -> str:
    """A W3C trace id (32 hex). The first 8 hex digits are the epoch seconds, so the
    same id is also a valid X-Ray trace id."""
    import time

    return f"{int(time.time()) & 0xFFFFFFFF:08x}{_rng.getrandbits(96):024x}"


def new_span_id() -> str:
    value = 0
    while value == 0:
        value = _rng.getrandbits(64)
    return f"{value:016x}"


def xray_to_w3c(root: str) -> str | None:
    """``1-5759e988-bd862e3fe1be46a994272793`` -> ``5759e988bd862e3fe1be46a994272793``."""
    parts = root.split("-")
    if len(parts) != 3 or parts[0] != "1" or len(parts[1]) != 8 or len(parts[2]) != 24:
        return None
    trace_id = (parts[1] + parts[2]).lower()
    if not _is_hex(trace_id) or trace_id == "0" * 32:
        return None
    return trace_id


def w3c_to_xray(trace_id: str) -> str:
    return f"1-{trace_id[:8]}-{trace_id[8:]}"


def _is_hex(value: str) -> bool:
    try:
        int(value, 16)
    except ValueError:
        return False
    return True


def parse_xray_header(header: str | None) -> dict[str, str]:
    """Parse ``Root=1-…;Parent=…;Sampled=1`` into a dict (keys as written)."""
    result: dict[str, str] = {}
    if not header:
        return result
    for part in header.split(";"):
        key, sep, value = part.strip().partition("=")
        if sep and key:
            result[key] = value
    return result


def parse_traceparent(value: str | None) -> tuple[str, str, bool] | None:
    """Parse a W3C ``traceparent``; returns (trace_id, parent_span_id, sampled) or None."""
    if not value:
        return None
    parts = value.strip().lower().split("-")
    if len(parts) < 4:
        return None
    version, trace_id, span_id, flags = parts[0], parts[1], parts[2], parts[3]
    if (
        len(version) != 2
        or version == "ff"
        or len(trace_id) != 32
        or len(span_id) != 16
        or len(flags) != 2
        or not (_is_hex(version) and _is_hex(trace_id) and _is_hex(span_id) and _is_hex(flags))
        or trace_id == "0" * 32
        or span_id == "0" * 16
    ):
        return None
    if version == "00" and len(parts) != 4:
        return None
    return trace_id, span_id, bool(int(flags, 16) & 1)
