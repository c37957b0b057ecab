"""Every conformance case against the reference engine, ``policies.cors.decide``; and the
case files against their JSON Schema and their generator."""

from __future__ import annotations

import importlib.util
import json
from typing import Any

import jsonschema
import pytest

from policies.cors import decide, decide_without_policy
from tests.conformance.cases import CONFORMANCE, case_files, load_cases, observed_headers, params


@pytest.mark.parametrize("case", params())
def test_engine__conformance_case__expected_decision(case: dict[str, Any]) -> None:
    # Given a policy document and a request
    request = case["request"]
    # When the reference engine decides
    arguments = {
        "method": request["method"],
        "path": request["path"],
        "headers": request["headers"],
    }
    if case["document"] is None:
        decision = decide_without_policy(**arguments)
    else:
        decision = decide(case["document"], **arguments)
    # Then the code, the preflight status and every CORS header are exactly the expected ones
    expect = case["expect"]
    assert {
        "status": decision.status,
        "code": getattr(decision, "code", None),
        "headers": observed_headers(decision.headers),
    } == expect


def test_cases__every_file__valid_against_the_schema() -> None:
    # Given the JSON Schema of a case file
    schema = json.loads((CONFORMANCE / "schema.json").read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    # When every case file is validated / Then none has an error
    for path in case_files():
        errors = [error.message for error in validator.iter_errors(json.loads(path.read_text()))]
        assert errors == [], path.name


def test_cases__committed_files__what_the_generator_writes() -> None:
    # Given the generator of the case files
    spec = importlib.util.spec_from_file_location("generate", CONFORMANCE / "generate.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    # When it renders / Then the committed files are exactly its output (no hand edits drift)
    rendered = module.render()
    assert sorted(rendered) == [path.name for path in case_files()]
    for name, text in rendered.items():
        assert (CONFORMANCE / "cases" / name).read_text(encoding="utf-8") == text, name


def test_cases__suite__covers_enough_and_every_code() -> None:
    # Given every case / Then there are at least 150, names are unique, and every code is
    # expected somewhere
    cases = list(load_cases())
    assert len(cases) >= 150
    assert len({name for name, _ in cases}) == len(cases)
    codes = {case["expect"]["code"] for _, case in cases}
    assert codes == {
        "allowed",
        "not-cors",
        "outside-paths",
        "mode-off",
        "no-policy",
        "origin-not-allowed",
        "method-not-allowed",
        "header-not-allowed",
        "private-network-not-allowed",
    }
    assert len([case for _, case in cases if case.get("e2e")]) >= 40
