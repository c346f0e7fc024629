"""``instrument``'s settings are declared once, on ``fnlens._config.Settings``.

The decorator's keyword arguments (its typed overload, read with ``ast`` from the
source), the keywords it accepts at run time, the environment parsing, and the tables
of docs/middleware.md § Configuration and docs/api.md § The middleware are all checked
against the fields' metadata here.
"""

from __future__ import annotations

import ast
import dataclasses
import re
from pathlib import Path

import pytest

import fnlens
from fnlens._config import SETTING_ARGS, Settings, settings_from_env

ROOT = Path(__file__).resolve().parents[2]
FIELDS = {f.name: f for f in dataclasses.fields(Settings)}
ARGUMENTS = {n for n, f in FIELDS.items() if f.metadata["argument"]}
VARIABLES = {f.metadata["env"] for f in FIELDS.values()}


def _overload_keywords() -> dict[str, tuple[str, str]]:
    """``name -> (annotation, default)`` of the keyword-only parameters of the overload
    of ``instrument`` that takes settings."""
    tree = ast.parse((ROOT / "src/fnlens/runtime/_decorator.py").read_text(encoding="utf-8"))
    for node in tree.body:
        if (
            isinstance(node, ast.FunctionDef)
            and node.name == "instrument"
            and any(ast.unparse(d) == "overload" for d in node.decorator_list)
            and node.args.kwonlyargs
        ):
            return {
                a.arg: (ast.unparse(a.annotation), ast.unparse(d))
                for a, d in zip(node.args.kwonlyargs, node.args.kw_defaults, strict=True)
                if a.annotation is not None and d is not None
            }
    raise AssertionError("no overload of instrument with keyword arguments")


def test_every_field_is_declared_with_its_variable_and_doc() -> None:
    assert len(FIELDS) >= 15
    for name, f in FIELDS.items():
        assert re.fullmatch(r"(FNLENS|OTEL)_[A-Z_]+", f.metadata["env"]), name
        assert f.metadata["doc"].strip(), name
        assert f.metadata["parse"] in ("bool", "number", "choice", "custom"), name
    assert len({f.metadata["env"] for f in FIELDS.values()}) == len(FIELDS)


def test_the_typed_overload_has_exactly_the_declared_arguments() -> None:
    keywords = _overload_keywords()
    assert set(keywords) - {"span_name"} == ARGUMENTS
    assert set(SETTING_ARGS) == ARGUMENTS
    for name in ARGUMENTS:
        annotation, default = keywords[name]
        assert default == "None", name  # None: not given, the environment decides
        declared = str(FIELDS[name].type).replace(" | None", "")
        assert annotation.endswith("| None") and declared in annotation, (name, annotation)


def test_the_decorator_accepts_every_declared_argument_and_no_other() -> None:
    values = {
        "service": "orders",
        "service_version": "7",
        "log_level": "debug",
        "stdout": False,
        "log_event": True,
        "log_event_body": True,
        "redact": False,
        "redact_keys": ["Session"],
        "timeout_margin_ms": 250.0,
        "flush_budget_ms": 7.0,
        "trace_parent": "xray",
        "after_response": False,
        "log_fields": "powertools",
    }
    assert set(values) == ARGUMENTS

    @fnlens.instrument(**values)  # type: ignore[arg-type]
    def handler(event: dict[str, str], context: object) -> int:
        return 1

    settings = handler.__fnlens_settings__  # type: ignore[attr-defined]
    expected = {**values, "redact_keys": ("session",)}
    assert {n: getattr(settings, n) for n in ARGUMENTS} == expected
    with pytest.raises(TypeError, match="proactive_init_threshold_ms"):
        fnlens.instrument(proactive_init_threshold_ms=1.0)  # type: ignore[call-overload]


# a value for each variable that differs from the default, and what it becomes
_ENV_VALUES = {
    "FNLENS_DISABLED": ("true", True),
    "FNLENS_SERVICE": ("orders", "orders"),
    "FNLENS_SERVICE_VERSION": ("7", "7"),
    "FNLENS_LOG_LEVEL": ("warning", "warning"),
    "FNLENS_STDOUT": ("false", False),
    "FNLENS_LOG_EVENT": ("true", True),
    "FNLENS_LOG_EVENT_BODY": ("true", True),
    "FNLENS_REDACT": ("false", False),
    "FNLENS_TIMEOUT_MARGIN_MS": ("250", 250.0),
    "FNLENS_FLUSH_BUDGET_MS": ("7", 7.0),
    "FNLENS_PROACTIVE_INIT_THRESHOLD_MS": ("5000", 5000.0),
    "FNLENS_TRACE_PARENT": ("xray", "xray"),
    "FNLENS_AFTER_RESPONSE": ("false", False),
    "FNLENS_LOG_FIELDS": ("powertools", "powertools"),
    "FNLENS_LOG_FORMAT": ("gcp", "gcp"),
    "OTEL_RESOURCE_ATTRIBUTES": ("team=pay", {"team": "pay"}),
}


@pytest.mark.parametrize("name", sorted(FIELDS))
def test_each_setting_is_read_from_its_variable(name: str) -> None:
    variable = FIELDS[name].metadata["env"]
    if variable == "FNLENS_REDACT_KEYS":
        got = settings_from_env({variable: "Session"}).redact_keys
        assert got[-1] == "session" and len(got) == len(Settings().redact_keys) + 1
        return
    raw, value = _ENV_VALUES[variable]
    assert getattr(Settings(), name) != value
    assert getattr(settings_from_env({variable: raw}), name) == value


def _middleware_table() -> list[list[str]]:
    text = (ROOT / "docs/middleware.md").read_text(encoding="utf-8")
    section = text.split("\n## Configuration\n", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| ")]
    return [[c.strip() for c in row.strip("|").split("|")] for row in rows[1:]]


def _shown(value: object) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def test_the_configuration_table_matches_the_declaration() -> None:
    seen_arguments: set[str] = set()
    seen_variables: set[str] = set()
    for argument, environment, default, _doc in _middleware_table():
        names = re.findall(r"`([a-z_]+)`", argument)
        variables = re.findall(r"`(FNLENS_[A-Z_]+)`", environment)
        if argument == "—":  # an environment-only setting
            (variable,) = variables
            (name,) = [n for n, f in FIELDS.items() if f.metadata["env"] == variable]
            assert not FIELDS[name].metadata["argument"], name
            names = [name]
        elif names == ["span_name"]:
            continue
        else:
            # `a` / `b` pairs with `FNLENS_A` / `FNLENS_B`, in order
            assert [FIELDS[n].metadata["env"] for n in names] == variables[: len(names)]
        for token in re.findall(r"`([^`]+)`", default):
            assert all(_shown(FIELDS[n].default) == token for n in names), (names, token)
        seen_arguments.update(n for n in names if FIELDS[n].metadata["argument"])
        seen_variables.update(FIELDS[n].metadata["env"] for n in names)
    assert seen_arguments == ARGUMENTS
    declared = {
        f.metadata["env"] for f in FIELDS.values() if f.metadata["env"].startswith("FNLENS")
    }
    assert seen_variables == declared


def test_the_api_page_lists_every_declared_variable() -> None:
    text = (ROOT / "docs/api.md").read_text(encoding="utf-8")
    section = text.split("\n### The middleware\n", 1)[1].split("\n### ", 1)[0]
    listed = set(re.findall(r"`(FNLENS_[A-Z_]+)`", section))
    declared = {
        f.metadata["env"] for f in FIELDS.values() if f.metadata["env"].startswith("FNLENS")
    }
    assert listed == declared
