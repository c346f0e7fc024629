"""What a function is made of: code, handler, memory, timeout and environment."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class FunctionCode:
    """One deployable configuration, what ``PublishVersion`` freezes into a version.

    ``code_dir`` is the task root (``LAMBDA_TASK_ROOT``): the handler module is
    imported from there. ``tracing="Active"`` passes ``Sampled=1`` trace headers
    and adds the ``XRAY TraceId`` part to REPORT lines, as Lambda's active tracing does.
    """

    handler: str
    code_dir: Path
    memory_mb: int = 128
    timeout_s: float = 3.0
    environment: dict[str, str] = field(default_factory=dict)
    tracing: str = "PassThrough"
    log_format: str = "text"  # "text" or "json" (Lambda's JSON log format)
    description: str = ""
    # SnapStart (``ApplyOn: PublishedVersions``): published versions start from a snapshot
    # taken after init; $LATEST runs on demand, as on Lambda
    snap_start: bool = False
    # external extensions (what Lambda starts from /opt/extensions): executables, or
    # Python files run with the runtime's interpreter; started before the runtime
    extensions: tuple[str | Path, ...] = ()

    def __post_init__(self) -> None:
        if "." not in self.handler:
            raise ValueError(f"handler must look like module.function, got {self.handler!r}")
        if self.memory_mb < 128 or self.memory_mb > 10240:
            raise ValueError(f"memory must be between 128 and 10240 MB, got {self.memory_mb}")
        if self.timeout_s <= 0 or self.timeout_s > 900:
            raise ValueError(f"timeout must be in (0, 900] seconds, got {self.timeout_s}")
        if self.log_format not in ("text", "json"):
            raise ValueError(f"log_format must be 'text' or 'json', got {self.log_format!r}")
        if self.tracing not in ("Active", "PassThrough"):
            raise ValueError(f"tracing must be 'Active' or 'PassThrough', got {self.tracing!r}")
