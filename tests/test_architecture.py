"""The package's shape, checked with grimp (the import graph of ``napari_iog``):

- no import cycle between its modules, function-level imports included (grimp sees every import
  statement, wherever it is). Imports under ``if TYPE_CHECKING:`` do not count for cycles: they
  never run, and they are the standard way to name a type of a module that imports this one;
- the core (everything outside ``napari_iog._napari``) never imports napari, qtpy or magicgui,
  and ``napari_iog.models`` never reaches ``napari_iog.training`` (directly or through another
  module; TYPE_CHECKING imports included for both rules);
- no module of ``src/napari_iog`` is longer than 300 lines;
- every predictor shipped here implements the declared ``inference.interface.Predictor``.
"""

from __future__ import annotations

import sys
from functools import lru_cache
from pathlib import Path

import pytest

grimp = pytest.importorskip("grimp")

PACKAGE = "napari_iog"
SRC = Path(__file__).resolve().parents[1] / "src" / PACKAGE
MAX_LINES = 300
GUI = ("napari", "qtpy", "magicgui")


@lru_cache(maxsize=2)
def _graph(exclude_type_checking: bool):
    return grimp.build_graph(
        PACKAGE,
        include_external_packages=True,
        exclude_type_checking_imports=exclude_type_checking,
        cache_dir=None,
    )


def _internal(graph) -> list[str]:
    return sorted(m for m in graph.modules if m == PACKAGE or m.startswith(PACKAGE + "."))


def import_cycles(graph) -> list[list[str]]:
    """The strongly connected components (more than one module) of the package's import graph."""
    mods = _internal(graph)
    adj = {m: sorted(set(graph.find_modules_directly_imported_by(m)) & set(mods)) for m in mods}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:  # Tarjan
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in adj[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 10 * len(mods)))
    try:
        for m in mods:
            if m not in index:
                visit(m)
    finally:
        sys.setrecursionlimit(limit)
    return out


def _edges(graph, comp: list[str]) -> list[str]:
    lines = []
    for a in comp:
        for b in sorted(set(graph.find_modules_directly_imported_by(a)) & set(comp)):
            where = graph.get_import_details(importer=a, imported=b)
            at = ", ".join(f"line {d['line_number']}" for d in where)
            lines.append(f"  {a} -> {b} ({at})")
    return lines


def test_no_import_cycles():
    graph = _graph(exclude_type_checking=True)
    cycles = import_cycles(graph)
    report = "\n".join(
        f"cycle of {len(c)} modules:\n" + "\n".join(_edges(graph, c)) for c in cycles
    )
    assert not cycles, f"import cycles in {PACKAGE}:\n{report}"


def test_the_cycle_finder_finds_a_cycle():
    """The check above is real: a two-module circle added to a copy of the graph is reported."""
    graph = grimp.build_graph(PACKAGE, cache_dir=None)
    graph.add_import(importer="napari_iog.config", imported="napari_iog.structures")
    graph.add_import(importer="napari_iog.structures", imported="napari_iog.config")
    assert ["napari_iog.config", "napari_iog.structures"] in import_cycles(graph)


def test_core_never_imports_the_gui():
    graph = _graph(exclude_type_checking=False)
    bad = []
    for m in _internal(graph):
        if m == f"{PACKAGE}._napari" or m.startswith(f"{PACKAGE}._napari."):
            continue
        for gui in GUI:
            if gui in graph.modules and graph.direct_import_exists(importer=m, imported=gui):
                bad.append(f"{m} imports {gui}")
    assert not bad, "the core must stay napari/Qt-free:\n" + "\n".join(bad)


def test_models_never_import_training():
    graph = _graph(exclude_type_checking=False)
    chain = graph.find_shortest_chain(
        importer=f"{PACKAGE}.models", imported=f"{PACKAGE}.training", as_packages=True
    )
    assert chain is None, "models must not depend on training: " + " -> ".join(chain or ())


def test_no_module_is_longer_than_300_lines():
    long = {
        str(p.relative_to(SRC.parent)): n
        for p in sorted(SRC.rglob("*.py"))
        if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert not long, f"modules above {MAX_LINES} lines (split by responsibility): {long}"


def test_every_predictor_implements_the_declared_interface():
    pytest.importorskip("torch")
    from napari_iog.config import PreprocessConfig
    from napari_iog.evaluation.grabcut import GrabCutPredictor, grabcut_available
    from napari_iog.inference import (
        BoxFillPredictor,
        IOGPredictor,
        Predictor,
        PromptPredictor,
        RandomWalkerPredictor,
    )
    from napari_iog.models import build_model, get_profile
    from tests._fake_predictor import FakePredictor

    iog = IOGPredictor(build_model("iog-tiny-refine"), get_profile("iog-tiny")[1], device="cpu")
    preds = [iog, RandomWalkerPredictor(), BoxFillPredictor()]
    if grabcut_available():
        preds.append(GrabCutPredictor(PreprocessConfig()))
    for p in preds:
        assert isinstance(p, Predictor), type(p).__name__
        assert 0 < p.mask_threshold < 1 and isinstance(p.name, str)
    assert [p.classical for p in preds] == [False] + [True] * (len(preds) - 1)
    assert [p.supports_refinement for p in preds[:3]] == [True, True, False]
    # the test double is a minimal predictor, not a full one
    assert isinstance(FakePredictor(), PromptPredictor)
    assert not isinstance(FakePredictor(), Predictor)
    assert not isinstance(object(), PromptPredictor)
