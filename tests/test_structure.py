"""The package's shape: an import graph without cycles, records defined once, a thin CLI.

These are the rules that keep the code easy to change (see scripts/import_graph.py); a failure
names the module and what to move.
"""

from __future__ import annotations

import ast
from collections import Counter

import conftest

import_graph = conftest.script("import_graph")
PACKAGE = import_graph.PACKAGE
MAX_LAYERS = 10
RECORDS = ("Word", "Transcription", "Turn", "Diarization", "Utterance", "Source", "ModelInfo", "ExportRecord")


def definitions() -> Counter:
    """(kind, name) of every class and module-level assignment in the package, counted."""
    found: Counter = Counter()
    for path in PACKAGE.rglob("*.py"):
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if isinstance(node, ast.ClassDef):
                found[("class", node.name)] += 1
            elif isinstance(node, ast.Assign):
                for target in node.targets:
                    if isinstance(target, ast.Name):
                        found[("constant", target.id)] += 1
    return found


def test_the_import_graph_has_no_cycle_and_few_layers():
    graph = import_graph.imports()
    assert import_graph.cycles(graph) == []
    layers = import_graph.layers(graph)
    assert max(layers.values()) + 1 <= MAX_LAYERS, layers
    assert layers["transcribe.records"] == 0 and graph["transcribe.records"] == {}
    # persistence sits on the records, below every stage
    assert set(graph["transcribe.session"]) <= {
        "transcribe",
        "transcribe.records",
        "transcribe.receipt",
        "transcribe.files",
        "transcribe.errors",
        "transcribe.review",
        "transcribe.review.edits",  # the review layer's record, itself on the ground floor:
    }
    assert set(graph["transcribe.review.edits"]) <= {"transcribe.records", "transcribe.labels", "transcribe.errors"}


def test_each_record_and_the_sample_rate_is_defined_once():
    found = definitions()
    assert all(found[("class", name)] == 1 for name in RECORDS), {n: found[("class", n)] for n in RECORDS}
    assert found[("constant", "SAMPLE_RATE")] == 1
    assert found[("constant", "MODERATOR")] == 1
    doubles = sorted(name for (kind, name), count in found.items() if kind == "class" and count > 1)
    assert doubles == [], f"classes defined in more than one module: {doubles}"


def test_the_cli_holds_no_loop_over_domain_data():
    """Each command parses options, calls the library and prints what it returns: no loops, no
    comprehensions in a command (helpers for the options themselves may loop over options)."""
    tree = ast.parse((PACKAGE / "cli.py").read_text(encoding="utf-8"))
    commands = [node for node in tree.body if isinstance(node, ast.FunctionDef) and node.decorator_list]
    assert len(commands) >= 12
    loops = [
        (command.name, node.lineno)
        for command in commands
        for node in ast.walk(command)
        if isinstance(node, (ast.For, ast.While, ast.ListComp, ast.DictComp, ast.SetComp, ast.GeneratorExp))
    ]
    assert loops == [], f"commands in cli.py loop over data {loops}; give the result a to_json() and lines() instead"
