"""Thresholds for ``fnlens compare``: documented defaults, a TOML file, flags on top.

Order of precedence: flags beat the file, which beats the defaults.
Every allowed change is a *worsening* the team accepts: percentage points for
rates, a relative change for latency, memory and cost.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from fnlens.exceptions import CompareSettingsError

__all__ = [
    "METRICS",
    "CompareSettings",
    "MetricRule",
    "load_settings",
    "parse_allow",
]


@dataclass(frozen=True)
class MetricRule:
    """One metric's gate: the allowed worsening, its sample floor, whether it gates."""

    allowed: float  # percentage points (kind "rate") or a fraction (kind "relative")
    min_samples: int
    required: bool = True  # too little data here makes the verdict inconclusive
    enabled: bool = True


# name -> (label, kind, unit shown for the allowed change)
METRICS: dict[str, tuple[str, str]] = {
    "error_rate": ("error rate", "rate"),
    "timeout_rate": ("timeout rate", "rate"),
    "latency": ("latency (Mann-Whitney)", "relative"),
    "p50": ("p50", "relative"),
    "p95": ("p95", "relative"),
    "p99": ("p99", "relative"),
    "cold_start_rate": ("cold-start rate", "rate"),
    "init_duration": ("init duration", "relative"),
    "max_memory": ("max memory used", "relative"),
    "cost_per_million": ("cost per 1M", "relative"),
}

DEFAULT_RULES: dict[str, MetricRule] = {
    "error_rate": MetricRule(allowed=1.0, min_samples=200),
    "timeout_rate": MetricRule(allowed=0.5, min_samples=200, required=False),
    "latency": MetricRule(allowed=0.10, min_samples=200),
    "p50": MetricRule(allowed=0.10, min_samples=200, required=False),
    "p95": MetricRule(allowed=0.20, min_samples=200),
    "p99": MetricRule(allowed=0.30, min_samples=500, required=False),
    "cold_start_rate": MetricRule(allowed=5.0, min_samples=200, required=False),
    "init_duration": MetricRule(allowed=0.20, min_samples=30, required=False),
    "max_memory": MetricRule(allowed=0.15, min_samples=200, required=False),
    "cost_per_million": MetricRule(allowed=0.10, min_samples=200, required=False),
}

ROUTE_METRICS = ("error_rate", "latency", "p95")
CORRECTIONS = ("holm", "bh", "none")


@dataclass(frozen=True)
class CompareSettings:
    """Everything that decides a verdict; the JSON output echoes it back."""

    alpha: float = 0.05
    power: float = 0.8
    correction: str = "holm"
    route_min_samples: int = 50
    fail_on_new_error_types: bool = False
    seed: int = 0
    bootstrap_draws: int = 20_000
    price_per_gb_second: float = 0.0000166667
    price_per_request: float = 0.0000002
    rules: dict[str, MetricRule] = field(default_factory=lambda: dict(DEFAULT_RULES))

    def rule(self, metric: str) -> MetricRule:
        return self.rules[metric]

    def to_dict(self) -> dict[str, Any]:
        return {
            "alpha": self.alpha,
            "power": self.power,
            "correction": self.correction,
            "route_min_samples": self.route_min_samples,
            "fail_on_new_error_types": self.fail_on_new_error_types,
            "seed": self.seed,
            "bootstrap_draws": self.bootstrap_draws,
            "price_per_gb_second": self.price_per_gb_second,
            "price_per_request": self.price_per_request,
            "metrics": {
                name: {
                    "allowed": r.allowed,
                    "allowed_unit": "points" if METRICS[name][1] == "rate" else "fraction",
                    "min_samples": r.min_samples,
                    "required": r.required,
                    "enabled": r.enabled,
                }
                for name, r in self.rules.items()
            },
        }


_TOP_KEYS = {
    "alpha": float,
    "power": float,
    "correction": str,
    "route_min_samples": int,
    "fail_on_new_error_types": bool,
    "seed": int,
    "bootstrap_draws": int,
    "price_per_gb_second": float,
    "price_per_request": float,
}
_RULE_KEYS = {"allowed": float, "min_samples": int, "required": bool, "enabled": bool}


def _read_toml(path: Path) -> dict[str, Any]:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10
        import tomli as tomllib
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except OSError as exc:
        raise CompareSettingsError(f"cannot read {path}: {exc.strerror or exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise CompareSettingsError(f"{path}: {exc}") from exc  # the message carries line and column


def _typed(value: Any, kind: type, where: str) -> Any:
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if kind is float and isinstance(value, str):
        value = parse_change(value, where)
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise CompareSettingsError(f"{where}: expected {kind.__name__}, got {value!r}")
    return value


def load_settings(path: str | Path | None = None, **overrides: Any) -> CompareSettings:
    """Defaults, then the ``[compare]`` table of a TOML file, then ``overrides``.

    ``overrides`` holds top-level settings (``alpha=0.01``) and ``allow`` /
    ``min_samples`` dicts keyed by metric, as the CLI flags give them.
    """
    settings = CompareSettings()
    if path is not None:
        settings = _apply_file(settings, Path(path))
    allow = overrides.pop("allow", None) or {}
    min_samples = overrides.pop("min_samples", None)
    top = {k: v for k, v in overrides.items() if v is not None}
    unknown = set(top) - set(_TOP_KEYS)
    if unknown:
        raise CompareSettingsError(f"unknown setting(s): {', '.join(sorted(unknown))}")
    settings = replace(settings, **top)
    rules = dict(settings.rules)
    for metric, allowed in allow.items():
        _known_metric(metric, "--allow")
        rules[metric] = replace(rules[metric], allowed=allowed)
    if min_samples is not None:
        rules = {k: replace(r, min_samples=min_samples) for k, r in rules.items()}
    settings = replace(settings, rules=rules)
    _validate(settings)
    return settings


def _apply_file(settings: CompareSettings, path: Path) -> CompareSettings:
    data = _read_toml(path)
    table = data.get("compare", data)
    if not isinstance(table, dict):
        raise CompareSettingsError(f"{path}: [compare] must be a table")
    top: dict[str, Any] = {}
    rules = dict(settings.rules)
    for key, value in table.items():
        if key == "metrics":
            if not isinstance(value, dict):
                raise CompareSettingsError(f"{path}: compare.metrics must be a table")
            for metric, spec in value.items():
                _known_metric(metric, f"{path}: compare.metrics")
                if not isinstance(spec, dict):
                    raise CompareSettingsError(f"{path}: compare.metrics.{metric} must be a table")
                changes = {}
                for k, v in spec.items():
                    if k not in _RULE_KEYS:
                        raise CompareSettingsError(
                            f"{path}: compare.metrics.{metric}.{k} is not a setting "
                            f"(use {', '.join(_RULE_KEYS)})"
                        )
                    changes[k] = _typed(v, _RULE_KEYS[k], f"{path}: compare.metrics.{metric}.{k}")
                rules[metric] = replace(rules[metric], **changes)
        elif key in _TOP_KEYS:
            top[key] = _typed(value, _TOP_KEYS[key], f"{path}: compare.{key}")
        else:
            raise CompareSettingsError(
                f"{path}: compare.{key} is not a setting (use {', '.join(_TOP_KEYS)}, metrics)"
            )
    return replace(settings, rules=rules, **top)


def _known_metric(metric: str, where: str) -> None:
    if metric not in METRICS:
        raise CompareSettingsError(f"{where}: unknown metric {metric!r} (use {', '.join(METRICS)})")


def _validate(s: CompareSettings) -> None:
    if not 0 < s.alpha < 0.5:
        raise CompareSettingsError(f"alpha must be between 0 and 0.5, got {s.alpha}")
    if not 0.5 <= s.power < 1:
        raise CompareSettingsError(f"power must be in [0.5, 1), got {s.power}")
    if s.correction not in CORRECTIONS:
        raise CompareSettingsError(f"correction must be one of {', '.join(CORRECTIONS)}")
    if s.bootstrap_draws < 1000:
        raise CompareSettingsError("bootstrap_draws must be at least 1000")
    for name, rule in s.rules.items():
        if rule.allowed < 0:
            raise CompareSettingsError(f"{name}: the allowed change cannot be negative")
        if rule.min_samples < 1:
            raise CompareSettingsError(f"{name}: min_samples must be at least 1")


_CHANGE = re.compile(r"^\s*\+?(\d+(?:\.\d+)?)\s*(%|pp|points?)?\s*$")


def parse_change(text: str, where: str = "--allow") -> float:
    """``"20%"`` -> 0.20; ``"0.5pp"`` / ``"0.5"`` -> 0.5 (points, for rates)."""
    match = _CHANGE.match(text)
    if not match:
        raise CompareSettingsError(f"{where}: cannot read {text!r} as a change (e.g. 20% or 0.5pp)")
    value = float(match.group(1))
    return value / 100 if match.group(2) == "%" else value


def parse_allow(items: list[str] | tuple[str, ...]) -> dict[str, float]:
    """``["p95=20%", "error_rate=0.5pp"]`` -> allowed changes per metric.

    Relative metrics take a percentage (``20%``) or a fraction (``0.2``);
    rates take percentage points (``0.5pp`` or ``0.5``).
    """
    out: dict[str, float] = {}
    for item in items:
        metric, sep, value = item.partition("=")
        metric = metric.strip()
        if not sep:
            raise CompareSettingsError(f"--allow {item!r}: use METRIC=CHANGE, e.g. p95=20%")
        _known_metric(metric, "--allow")
        kind = METRICS[metric][1]
        stripped = value.strip()
        if kind == "rate" and stripped.endswith("%"):
            raise CompareSettingsError(
                f"--allow {item!r}: {metric} is a rate; give percentage points, e.g. 0.5pp"
            )
        out[metric] = parse_change(stripped, f"--allow {item!r}")
    return out
