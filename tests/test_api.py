"""The package namespace is the API: the functions themselves (real signatures for an editor's help), imported on
first use, and no other names."""

from __future__ import annotations

import inspect
import subprocess
import sys

import pytest

import transportmon
from transportmon import inputs, pipeline, ticket_limits, validate


def test_audit_is_the_function_with_its_parameters() -> None:
    assert transportmon.audit is pipeline.audit
    params = inspect.signature(transportmon.audit).parameters
    assert not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
    # passengers_optional: only transportmon.limits reads trips whose tickets are not sold yet
    load = set(inspect.signature(inputs.load_inputs).parameters) - {"defer", "errors", "passengers_optional"}
    # and how to run and where to write (out, only, lang: as AuditResult.write)
    assert load | {"engine", "scheduler", "spill", "keep_layers", "out", "only", "lang", "keep_trips"} == set(params)


@pytest.mark.parametrize(("name", "module"), [("audit", pipeline), ("measure", pipeline), ("report_on", pipeline),
                                              ("AuditResult", pipeline), ("load_inputs", inputs),
                                              ("validate_inputs", validate), ("Validation", validate),
                                              ("limits", ticket_limits)])
def test_api_names_are_the_objects(name: str, module: object) -> None:
    assert getattr(transportmon, name) is getattr(module, name)
    assert name in dir(transportmon)


def test_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no_such_thing"):
        transportmon.no_such_thing


def test_import_is_light() -> None:
    def run(code: str) -> str:
        return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()

    assert run("import sys, transportmon; print([m for m in ('transportmon.pipeline', 'geopandas') "
               "if m in sys.modules])") == "[]"
    assert run("import sys, transportmon; transportmon.audit; print('transportmon.pipeline' in sys.modules)") == "True"
