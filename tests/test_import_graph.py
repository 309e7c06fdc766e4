"""neuromod's modules import each other without cycles (module-level and function-level
imports alike), so that dependencies point one way: foundations below, backends and
model families above, the command line on top."""
import ast
import pathlib

import neuromod

ROOT = pathlib.Path(neuromod.__file__).parent


def module_graph():
    """module name -> names of the neuromod modules it imports anywhere in its source."""
    files = {}
    for f in ROOT.rglob("*.py"):
        parts = f.relative_to(ROOT.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        files[name] = f
    graph = {}
    for name, f in files.items():
        package = name if f.name == "__init__.py" else name.rpartition(".")[0]
        edges = set()
        for node in ast.walk(ast.parse(f.read_text())):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    up = package.split(".")[:len(package.split(".")) - node.level + 1]
                    base = ".".join(up + ([base] if base else []))
                targets = [base] + [f"{base}.{a.name}" for a in node.names]
            else:
                continue
            # a package's __init__ is its public face, not a dependency on its modules
            edges |= {t for t in targets if t in files and t != name
                      and files[t].name != "__init__.py"}
        graph[name] = edges
    return graph


def cycles(graph):
    """The strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
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
                found.append(sorted(comp))
    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_the_graph_is_read():
    graph = module_graph()
    assert "neuromod.backends.network" in graph["neuromod.backends.torch_network"]
    assert len(graph) > 60


def test_detects_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_import_cycles():
    assert cycles(module_graph()) == []


def test_foundations_import_no_model_layer():
    """spikes, io, stats, units, limits, outputs and errors never import the backends,
    the model families or the command line."""
    upper = ("neuromod.backends", "neuromod.neurons", "neuromod.auditory", "neuromod.cli",
             "neuromod.validation")
    foundations = ("neuromod.spikes", "neuromod.io", "neuromod.stats", "neuromod.units",
                   "neuromod.limits", "neuromod.outputs", "neuromod.errors", "neuromod.datasets")
    graph = module_graph()
    bad = {m: sorted(t for t in targets if t.startswith(upper))
           for m, targets in graph.items() if m.startswith(foundations)}
    assert {m: t for m, t in bad.items() if t} == {}
