"""Install exporters: from arguments, ``FNLENS_*`` and the standard ``OTEL_*`` variables.

Arguments beat ``FNLENS_*``, which beat ``OTEL_*``, which beat defaults. A bad
value warns once on stderr and falls back; installation never raises into the
function. ``OTEL_SDK_DISABLED=true`` installs nothing.

``FNLENS_EXPORTERS`` is a comma-separated list of ``otlp``, ``emf``, ``xray``,
``file``, ``cloudwatch-logs`` (or ``none``). Without it, OTLP is enabled by
``OTEL_TRACES_EXPORTER=otlp``, ``OTEL_LOGS_EXPORTER=otlp`` or an
``OTEL_EXPORTER_OTLP_*ENDPOINT``; ``OTEL_TRACES_EXPORTER=none`` /
``OTEL_LOGS_EXPORTER=none`` switch a signal off.
"""

from __future__ import annotations

import atexit
import os
import sys
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from fnlens._config import (
    Settings,
    parse_bool,
    parse_choice,
    parse_number,
    settings_from_env,
    warn_once,
)
from fnlens._state import register_reset
from fnlens.exporters._flushing import MODES, POLICY
from fnlens.runtime._identity import function_identity
from fnlens.runtime._telemetry import TELEMETRY, Telemetry

EXPORTERS = ("otlp", "emf", "xray", "file", "cloudwatch-logs")
_ALIASES = {
    "cloudwatch_logs": "cloudwatch-logs",
    "cloudwatchlogs": "cloudwatch-logs",
    "cwlogs": "cloudwatch-logs",
    "files": "file",
    "otlp-http": "otlp",
    "otlp-grpc": "otlp",
}
_lock = threading.Lock()


@dataclass
class InstalledExporters:
    """What :func:`configure_exporters` installed (for inspection, tests and shutdown)."""

    names: list[str] = field(default_factory=list)
    sinks: list[Any] = field(default_factory=list)
    hooks: list[Any] = field(default_factory=list)
    span_processors: list[Any] = field(default_factory=list)
    resource_attributes: dict[str, Any] = field(default_factory=dict)
    flush_mode: str = "budget"
    extension: Any = None


_INSTALLED: list[InstalledExporters] = []
_PROCESS_HOOKS: list[bool] = []  # [True] once exit, SIGTERM, fork and SnapStart hooks are set


def parse_exporters(raw: str | Iterable[str] | None) -> list[str]:
    """Normalise an exporter list; unknown names warn once and are skipped."""
    if raw is None:
        return []
    items = raw.split(",") if isinstance(raw, str) else list(raw)
    names: list[str] = []
    for item in items:
        name = item.strip().lower()
        name = _ALIASES.get(name, name)
        if not name or name == "none":
            continue
        if name not in EXPORTERS:
            warn_once(
                f"exporter:{name}",
                f"unknown exporter {item.strip()!r} in FNLENS_EXPORTERS "
                f"(known: {', '.join(EXPORTERS)}); ignored",
            )
            continue
        if name not in names:
            names.append(name)
    return names


def _otel_list(env: Mapping[str, str], name: str) -> set[str] | None:
    raw = env.get(name)
    if raw is None or not raw.strip():
        return None
    return {v.strip().lower() for v in raw.split(",") if v.strip()}


def configure_from_env(telemetry: Telemetry, settings: Settings) -> InstalledExporters:
    """Entry point used by the runtime on first decoration (``fnlens.runtime._setup``)."""
    return configure_exporters(telemetry=telemetry, settings=settings)


def configure_exporters(
    exporters: str | Iterable[str] | None = None,
    *,
    telemetry: Telemetry | None = None,
    settings: Settings | None = None,
    otlp_endpoint: str | None = None,
    otlp_protocol: str | None = None,
    otlp_headers: Mapping[str, str] | None = None,
    otlp_timeout_s: float | None = None,
    traces: bool | None = None,
    logs: bool | None = None,
    file_dir: str | None = None,
    emf_namespace: str | None = None,
    xray_daemon_address: str | None = None,
    cloudwatch_log_group: str | None = None,
    cloudwatch_log_stream: str | None = None,
    flush_mode: str | None = None,
    env: Mapping[str, str] | None = None,
) -> InstalledExporters:
    """Install the chosen exporters into ``telemetry`` (the process-wide registry by default)."""
    env = os.environ if env is None else env
    telemetry = TELEMETRY if telemetry is None else telemetry
    settings = settings_from_env(env) if settings is None else settings
    installed = InstalledExporters()
    if parse_bool("OTEL_SDK_DISABLED", env.get("OTEL_SDK_DISABLED"), False):
        return installed

    traces_env = _otel_list(env, "OTEL_TRACES_EXPORTER")
    logs_env = _otel_list(env, "OTEL_LOGS_EXPORTER")
    for var, values in (("OTEL_TRACES_EXPORTER", traces_env), ("OTEL_LOGS_EXPORTER", logs_env)):
        for value in (values or set()) - {"otlp", "none"}:
            warn_once(f"{var}:{value}", f"{var}={value!r} is not supported by fnlens; ignored")

    if exporters is not None:
        names = parse_exporters(exporters)
    elif env.get("FNLENS_EXPORTERS") is not None:
        names = parse_exporters(env["FNLENS_EXPORTERS"])
    else:
        wants_otlp = (
            "otlp" in (traces_env or set())
            or "otlp" in (logs_env or set())
            or any(env.get(f"OTEL_EXPORTER_OTLP_{s}ENDPOINT") for s in ("", "TRACES_", "LOGS_"))
        )
        names = ["otlp"] if wants_otlp else []
    if traces is None:
        traces = traces_env != {"none"}
    if logs is None:
        logs = logs_env != {"none"}

    mode = flush_mode or env.get("FNLENS_FLUSH_MODE") or "auto"
    mode = parse_choice("FNLENS_FLUSH_MODE", mode, MODES, "auto")

    with _lock:
        identity = function_identity(None, "handler")
        from fnlens.exporters._resource import resource_attributes

        attrs = resource_attributes(settings, identity=identity, env=env)
        installed.resource_attributes = attrs
        span_exporters: list[Any] = []
        resources: dict[str, Any] = {}

        def sdk_resource() -> Any:
            if "sdk" not in resources:
                from fnlens.exporters._resource import build_resource

                resources["sdk"] = build_resource(attrs)
            return resources["sdk"]

        def wire_resource() -> Any:
            if "wire" not in resources:
                from fnlens.exporters._resource import wire_resource as build

                resources["wire"] = build(attrs)
            return resources["wire"]

        for name in names:
            try:
                if name == "otlp":
                    from fnlens.exporters import _otlp as otlp

                    common = {
                        "endpoint": otlp_endpoint,
                        "protocol": otlp_protocol,
                        "headers": otlp_headers,
                        "timeout_s": otlp_timeout_s,
                        "env": env,
                    }
                    if traces:
                        config = otlp.resolve("traces", **common)
                        span_exporters.append(otlp.span_exporter(config))
                    if logs:
                        config = otlp.resolve("logs", **common)
                        sink = otlp.OTLPLogSink(
                            otlp.log_exporter(config),
                            wire_resource,  # built on the export thread
                            **batch_options(env, "OTEL_BLRP"),
                        )
                        installed.sinks.append(sink)
                elif name == "file":
                    from fnlens.exporters import _files as files

                    directory = file_dir or env.get("FNLENS_FILE_DIR") or _default_file_dir(env)
                    installed.sinks.append(files.JsonlFileSink(directory))
                    if traces and files.span_encoder_available():
                        span_exporters.append(files.OtlpJsonFileSpanExporter(directory))
                    elif traces:
                        warn_once(
                            "install:file-spans",
                            "the file exporter writes spans as OTLP JSON with the files "
                            "extra: pip install 'fnlens[files]' (records and log lines are "
                            "written without it)",
                        )
                elif name == "emf":
                    from fnlens.exporters._emf import DEFAULT_NAMESPACE, EMFHook

                    namespace = (
                        emf_namespace
                        or env.get("FNLENS_EMF_NAMESPACE")
                        or env.get("POWERTOOLS_METRICS_NAMESPACE")
                        or DEFAULT_NAMESPACE
                    )
                    installed.hooks.append(EMFHook(namespace))
                elif name == "xray":
                    from fnlens.exporters._xray import XRayHook

                    installed.hooks.append(
                        XRayHook(
                            daemon_address=xray_daemon_address
                            or env.get("AWS_XRAY_DAEMON_ADDRESS")
                            or "127.0.0.1:2000",
                            service=attrs.get("service.name"),
                        )
                    )
                elif name == "cloudwatch-logs":
                    from fnlens.exporters._cloudwatch_logs import CloudWatchLogsSink

                    installed.sinks.append(
                        CloudWatchLogsSink(
                            log_group=cloudwatch_log_group
                            or env.get("FNLENS_CLOUDWATCH_LOG_GROUP")
                            or f"/fnlens/{attrs['service.name']}",
                            log_stream=cloudwatch_log_stream
                            or env.get("FNLENS_CLOUDWATCH_LOG_STREAM"),
                        )
                    )
                installed.names.append(name)
            except Exception as exc:  # a broken exporter never breaks the function
                warn_once(f"install:{name}", f"could not install the {name} exporter: {exc}")

        if span_exporters:
            from fnlens.exporters._tracer import install_span_exporters

            installed.span_processors = install_span_exporters(
                span_exporters, sdk_resource, wire_resource, **batch_options(env, "OTEL_BSP")
            )
            from fnlens.exporters._spans import ProcessorFlushHook

            installed.hooks.extend(ProcessorFlushHook(p) for p in installed.span_processors)

        installed.flush_mode = POLICY.resolve("budget" if mode == "extension" else mode)
        if mode == "extension":
            from fnlens.exporters._extension import start_extension

            installed.extension = start_extension(telemetry, env)
            if installed.extension is not None:
                installed.flush_mode = POLICY.resolve("extension")

        for hook in installed.hooks:
            telemetry.add_hook(hook)
        for sink in installed.sinks:
            telemetry.add_sink(sink)
        if not _PROCESS_HOOKS:  # once per process (they flush whatever is installed then)
            _PROCESS_HOOKS.append(True)
            atexit.register(_flush_at_exit)
            _flush_on_sigterm()
            _register_snapstart_hooks()
            _FORKED_CHILD_FLUSH.register()
            if hasattr(os, "register_at_fork"):
                os.register_at_fork(before=_FORKED_CHILD_FLUSH.register)
        _INSTALLED.append(installed)
    return installed


def batch_options(env: Mapping[str, str], prefix: str) -> dict[str, Any]:
    """The batch processor settings of the OpenTelemetry specification for one signal:
    ``OTEL_BSP_*`` (spans) or ``OTEL_BLRP_*`` (log records) — queue size, batch size,
    schedule delay in milliseconds. Bad values warn once and keep the default; a batch
    larger than the queue is cut to the queue size, as the SDK does. (Their
    ``EXPORT_TIMEOUT`` does not apply: fnlens's flush is bounded by its budget.)"""
    queue = parse_number(
        f"{prefix}_MAX_QUEUE_SIZE", env.get(f"{prefix}_MAX_QUEUE_SIZE"), 2048, minimum=1, cast=int
    )
    batch = parse_number(
        f"{prefix}_MAX_EXPORT_BATCH_SIZE",
        env.get(f"{prefix}_MAX_EXPORT_BATCH_SIZE"),
        512,
        minimum=1,
        cast=int,
    )
    delay_ms = parse_number(
        f"{prefix}_SCHEDULE_DELAY", env.get(f"{prefix}_SCHEDULE_DELAY"), 1000.0, minimum=1.0
    )
    return {
        "max_queue_size": queue,
        "max_export_batch_size": min(batch, queue),
        "schedule_delay_s": delay_ms / 1000.0,
    }


def _default_file_dir(env: Mapping[str, str]) -> str:
    # /var/task is read-only inside Lambda; /tmp is the writable place there.
    if env.get("AWS_LAMBDA_RUNTIME_API") or env.get("LAMBDA_TASK_ROOT"):
        return "/tmp/fnlens-telemetry"  # noqa: S108 (Lambda's one writable directory)
    return os.path.join(os.getcwd(), "fnlens-telemetry")


def reset_exporters(telemetry: Telemetry | None = None, timeout_s: float = 2.0) -> None:
    """Flush, stop and unregister everything installed so far (tests, reconfiguration)."""
    telemetry = TELEMETRY if telemetry is None else telemetry
    with _lock:
        installed_sets = list(_INSTALLED)
        _INSTALLED.clear()
    from fnlens.exporters import _tracer as tracer

    for installed in installed_sets:
        for part in (*installed.hooks, *installed.sinks):
            telemetry.remove_hook(part)
            telemetry.remove_sink(part)
            try:
                part.flush(timeout_s)
                part.shutdown()
            except Exception:
                pass
        if installed.extension is not None:
            installed.extension.stop()
    tracer.remove_all_processors()
    POLICY.resolve("budget")
    from fnlens.runtime._tracing import reset_sampler

    reset_sampler()
    telemetry.invoked_arn = None


def _reset() -> None:
    """Every installed exporter flushed (all together, for at most
    :data:`RESET_FLUSH_S`), stopped, shut down and forgotten (fnlens.testing.reset):
    what a collector did not take by then is counted as dropped, not waited for. The
    exit, SIGTERM and fork hooks stay: they flush what is installed when they run,
    which is nothing until a new configuration."""
    parts = [p for installed in list(_INSTALLED) for p in (*installed.hooks, *installed.sinks)]
    queues = [q for q in (_queue_of(p) for p in parts) if q is not None]
    deadline = time.monotonic() + RESET_FLUSH_S
    for queue in queues:
        queue.nudge()
    for queue in queues:
        try:
            queue.flush(max(0.0, deadline - time.monotonic()))
        except Exception:
            pass
        queue.abandon()  # (a worker stuck on a collector is joined below, briefly)
    reset_exporters(timeout_s=0.0)


RESET_FLUSH_S = 0.5  # how long a reset waits for collectors, for all exporters together
register_reset(__name__, _reset, first=True)  # (before the queues and the registry)


def installed_exporters() -> list[InstalledExporters]:
    return list(_INSTALLED)


# At exit every queue is flushed at once, all within this bound (FNLENS_EXIT_TIMEOUT_MS).
EXIT_TIMEOUT_S = 2.0


def _exit_timeout_s() -> float:
    raw = os.environ.get("FNLENS_EXIT_TIMEOUT_MS")
    return parse_number("FNLENS_EXIT_TIMEOUT_MS", raw, EXIT_TIMEOUT_S * 1000, minimum=0.0) / 1000


def _flush_at_exit(total_s: float | None = None) -> int:
    """Queued telemetry goes out when the process ends: every exporter's queue is started
    at once and all of them share one bound (``total_s``, by default
    ``FNLENS_EXIT_TIMEOUT_MS``, 2 s). What is still queued or unanswered then is counted
    as dropped and reported once; returns that count."""
    from fnlens.runtime._response_phase import run_pending

    run_pending()  # invocations still waiting for their response post are recorded first
    total_s = _exit_timeout_s() if total_s is None else total_s
    deadline = time.monotonic() + max(0.0, total_s)
    parts = [p for installed in list(_INSTALLED) for p in (*installed.hooks, *installed.sinks)]
    queues = [q for q in (_queue_of(p) for p in parts) if q is not None]
    for queue in queues:
        queue.nudge()  # all exports start now: the wait is the slowest, not the sum
    for part in parts:
        left = deadline - time.monotonic()
        queue = _queue_of(part)
        try:
            if queue is not None:
                queue.flush(max(0.0, left), wait_when_failing=True)
            elif left > 0:
                part.flush(left)
        except Exception:
            pass
    lost = 0
    for queue in queues:
        try:
            lost += queue.abandon()
        except Exception:
            pass
    _report_drops_at_exit(lost, total_s)
    return lost


def _report_drops_at_exit(abandoned: int, total_s: float) -> None:
    """What no invocation record could report: drops after the last record (its
    exports failed at exit, or were still unanswered at the bound)."""
    try:
        total = TELEMETRY.dropped()
    except Exception:
        return
    since = total - TELEMETRY.reported_dropped
    if since <= 0 and not abandoned:
        return
    detail = (
        f"; {abandoned} of them still queued or unanswered after {total_s:.1f} s"
        if abandoned
        else ""
    )
    warn_once(
        "exit-dropped",
        f"telemetry dropped: {since} item(s) after the last invocation record "
        f"({total} in all in this process){detail}",
    )


def _before_snapshot() -> None:
    """SnapStart, before the snapshot: what is queued goes out, and connections are
    closed (a restored copy must not reuse the snapshot's sockets; each reopens its
    own at its first export). Ids are reseeded after the restore (runtime.ids)."""
    from fnlens.runtime._response_phase import run_pending

    run_pending()
    deadline = time.monotonic() + _exit_timeout_s()
    for installed in _INSTALLED:
        for part in (*installed.hooks, *installed.sinks):
            try:
                part.flush(max(0.0, deadline - time.monotonic()))
            except Exception:
                pass
    from fnlens.exporters._otlp_http import close_all_connections

    close_all_connections()


class _ForkedChildFlush:
    """A ``multiprocessing`` child started by fork ends with ``os._exit`` — no ``atexit``.
    multiprocessing runs its own finalizers there (``multiprocessing.util.Finalize``,
    registered after the fork through ``register_after_fork``: the child clears the
    parent's finalizers first). A child that ends through ``sys.exit`` runs ``atexit``
    as usual; the second flush finds nothing left."""

    registered = False

    def register(self) -> None:
        """Now, and before every fork (multiprocessing may be imported later)."""
        if self.registered or "multiprocessing" not in sys.modules:
            return
        try:
            from multiprocessing.util import register_after_fork

            register_after_fork(self, _ForkedChildFlush._in_child)
            self.registered = True
        except Exception:
            pass

    def _in_child(self) -> None:
        try:
            from multiprocessing.util import Finalize

            Finalize(None, _flush_at_exit, exitpriority=100)
        except Exception:
            pass


_FORKED_CHILD_FLUSH = _ForkedChildFlush()


def _register_snapstart_hooks() -> None:
    try:
        from snapshot_restore_py import register_before_snapshot
    except ImportError:
        return
    try:
        register_before_snapshot(_before_snapshot)
    except Exception as exc:
        warn_once("snapstart-hooks", f"could not register the SnapStart hooks: {exc}")


def _queue_of(part: Any) -> Any:
    return getattr(part, "queue", None) or getattr(getattr(part, "processor", None), "queue", None)


# Lambda gives the runtime 500 ms after SIGTERM (sent when extensions are registered);
# the flush leaves room for the rest of the process's shutdown.
SIGTERM_FLUSH_S = 0.3


def _flush_on_sigterm() -> None:
    """Flush before the process dies of SIGTERM. Python's default is to die at once,
    skipping ``atexit``: Lambda sends SIGTERM before it shuts an environment down (when
    extensions are registered), and so do process supervisors and local runtimes. Only
    when SIGTERM has its default action: an application with its own handler keeps it
    (and can call ``fnlens.shutdown()`` there). After the flush the default action runs."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        return  # signal handlers can only be set from the main thread
    try:
        if signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
            return
    except (AttributeError, ValueError):
        return

    def on_sigterm(signum: int, frame: Any) -> None:
        try:
            _flush_at_exit(total_s=SIGTERM_FLUSH_S)
        finally:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            os.kill(os.getpid(), signal.SIGTERM)

    try:
        signal.signal(signal.SIGTERM, on_sigterm)
    except (OSError, ValueError):
        pass
