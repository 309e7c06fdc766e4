"""The time-step representation (neuromod.backends.ir) keeps the backends honest:

* a toy numpy printer, written here from the representation alone (under 150 lines),
  runs the LIF model and matches the Torch and Brian2 backends;
* the code-generating modules read no other module's private names and never edit
  generated code with string replacement;
* the Torch and scalar printers print the same program.
"""
import ast
import pathlib

import numpy as np
import pytest
import torch

import neuromod
from neuromod.backends import ir
from neuromod.backends.printers import Dialect, print_expr
from neuromod.neurons import alif, lif

BACKENDS = pathlib.Path(neuromod.__file__).parent / "backends"
DT = 1e-4


# ----------------------------------------------------------------- toy numpy printer
NUMPY = Dialect("numpy", {f: f"np.{f}" for f in ("exp", "expm1", "log", "sqrt", "sin", "cos",
                                                   "tan", "sinh", "cosh", "tanh")}
                | {"Abs": "np.abs", "atan": "np.arctan"},
                "np.minimum({a}, {b})", "np.maximum({a}, {b})")


def toy_source(cm, program):
    """One numpy function ``step(X, R, P, C, REF, SCALE, U, W)`` per program: X states x n,
    R refractory counters, P parameters, C coefficients (layout order), U inputs."""
    L = ["def step(X, R, P, C, REF, SCALE, U, W):"]
    a = L.append
    for i, s in enumerate(cm.states):
        a(f"    x_{s} = X[{i}].copy()")
    for k, p in enumerate(cm.params):
        a(f"    p_{p} = P[{k}]")
    for k, u in enumerate(cm.inputs):
        a(f"    u_{u} = U[{k}]" if program.inputs[k] else f"    u_{u} = 0.0")
    a("    active = np.ones(X.shape[1], bool)")

    def total(terms):
        out = []
        for t in terms:
            op = t.operand
            c = f"C[{t.coefficient}]"
            if isinstance(op, ir.State):
                out.append(f"{c}*x_{cm.states[op.index]}")
            elif isinstance(op, ir.Input):
                out.append(f"{c}*u_{cm.inputs[op.index]}")
            elif isinstance(op, ir.One):
                out.append(c)
            else:
                out.append(f"{c}*({print_expr(op.expr, cm.names, NUMPY)})")
        return " + ".join(out) or "0.0"

    for op in program.advance:
        if isinstance(op, ir.Countdown):
            a("    R = R - 1")
            a("    active = R <= 0")
        elif isinstance(op, ir.Propagate):
            s = cm.states[op.target]
            other = f"x_{s}" if op.frozen else (total(op.refractory) if op.refractory else None)
            if other is None:
                a(f"    n_{s} = {total(op.terms)}")
            else:
                a(f"    n_{s} = np.where(active, {total(op.terms)}, {other})")
        elif isinstance(op, ir.Commit):
            for s in cm.states:
                a(f"    x_{s} = n_{s}")
        elif isinstance(op, ir.Spike):
            cmp = ">" if op.strict else ">="
            a(f"    spike = ({print_expr(op.distance, cm.names, NUMPY)}) / SCALE {cmp} 0")
            if op.refractory:
                a("    spike = spike & active")
                a("    R = np.where(spike, REF, R)")
                a("    active = active & ~spike")
        else:
            raise NotImplementedError(type(op).__name__)
    for op in program.finish:
        x = f"x_{cm.states[op.target]}"
        if isinstance(op, ir.PortAdd):
            inc = f"({print_expr(op.coefficient, cm.names, NUMPY)})*W[{op.port}]"
            a(f"    {x} = np.where(active, {x} + {inc}, {x})" if op.masked else f"    {x} = {x} + {inc}")
        elif isinstance(op, ir.Reset):
            value = print_expr(op.value, cm.names, NUMPY)
            new = value if op.op == "=" else f"{x} {op.op[0]} ({value})"
            a(f"    {x} = np.where(spike, {new}, {x})")
        else:
            raise NotImplementedError(type(op).__name__)
    a(f"    return np.stack([{', '.join('x_' + s for s in cm.states)}]), R, spike")
    return "\n".join(L) + "\n"


def toy_run(model, current, n_steps):
    """Run ``model`` for ``n_steps`` with the constant input ``current`` (one per neuron)."""
    from neuromod.backends.propagator import layout_values, parameter_value
    cm = ir.compile_model(model)
    n = len(current)
    vals = {k: torch.tensor(v, dtype=torch.float64) for k, v in model.resolve_parameters(n).items()}
    C = np.array([c.numpy() for c in layout_values(cm, vals, DT, torch.float64)])[:, None]
    P = np.array([[float(vals[p])] for p in cm.params])
    REF = np.floor((float(vals[model.refractory]) + 1e-3 * DT) / DT)
    SCALE = float(parameter_value(cm, cm.scale, vals))
    X = np.array([[float(parameter_value(cm, e, vals))] * n for e in cm.init])
    ns = {"np": np}
    program = cm.program(has_inputs=(True,))
    exec(toy_source(cm, program), ns)  # noqa: S102 -- printed in this test
    R = np.zeros(n)
    spikes, v = [], []
    U = [np.asarray(current, dtype=np.float64)]
    for _ in range(n_steps):
        X, R, s = ns["step"](X, R, P, C, REF, SCALE, U, None)
        spikes.append(s)
        v.append(X[0])
    return np.array(spikes).T, np.array(v).T


def test_toy_printer_is_small():
    src = pathlib.Path(__file__).read_text()
    start = src.index("# ----------------------------------------------------------------- toy")
    end = src.index("def test_toy_printer_is_small")
    assert len(src[start:end].splitlines()) < 150


@pytest.mark.parametrize("backend", ["torch", "brian2"])
def test_toy_numpy_printer_matches_the_backends(backend):
    from neuromod.backends.network import simulate
    current = [0.5e-9, 1.5e-9, 3e-9]
    n_steps = 800
    spikes, v = toy_run(lif(), current, n_steps)
    r = simulate(lif(), 3, n_steps * DT, dt=DT, backend=backend, inputs={"I_ext": current},
                 record=["v"])
    st = r.spikes["neurons"]
    for i in range(3):
        steps = np.flatnonzero(spikes[i])
        np.testing.assert_array_equal(np.round(st[i] / DT).astype(int), steps)
    assert spikes[1:].sum() > 5                          # the suprathreshold neurons fire
    # a recorded trace holds the value at the start of each step (Brian2's convention)
    np.testing.assert_allclose(r.traces["neurons"]["v"][:, 1:], v[:, :-1], rtol=0, atol=1e-12)


def test_torch_and_scalar_printers_print_one_program():
    """The scalar kernels are printed from the program, not from the Torch text: every
    coefficient the Torch code reads, the scalar code reads at the same position."""
    import re

    from neuromod.backends.printers import scalar_step_source, torch_step_source
    for model in (lif(), alif()):
        cm = ir.compile_model(model)
        prog = cm.program((True,) * len(cm.inputs), (True,) * len(cm.ports))
        t = torch_step_source(cm, prog)
        s = scalar_step_source(cm, prog, DT)
        assert "torch" not in s
        used = sorted(set(map(int, re.findall(r"_c\[(\d+)\]", t))))
        assert used == sorted(set(map(int, re.findall(r"C\[(\d+), j\]", s))))
        normal = [k for k, c in enumerate(cm.layout.entries) if not c.refractory]
        assert set(normal) <= set(used)


# ----------------------------------------------------------------- structure rules
#: Private attributes of other libraries' objects the backends must read.
FOREIGN = {"_mpf_", "_prec", "_new", "_dims", "_last_run_time", "_globally_running"}


def _modules():
    return sorted(BACKENDS.glob("*.py"))


@pytest.mark.parametrize("path", _modules(), ids=lambda p: p.name)
def test_no_module_reads_another_modules_private_names(path):
    tree = ast.parse(path.read_text())
    own = {n.name for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.ClassDef))}
    own |= {n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute)
            and isinstance(n.ctx, ast.Store)}
    bad = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("neuromod"):
            bad += [a.name for a in node.names if a.name.startswith("_")]
        if isinstance(node, ast.Attribute) and node.attr.startswith("_") \
                and not node.attr.startswith("__") and node.attr not in FOREIGN | own:
            if not (isinstance(node.value, ast.Name) and node.value.id in ("self", "cls")):
                bad.append(ast.unparse(node))
    assert not bad, f"{path.name} reads private names: {bad}"


CODEGEN = ("ir.py", "printers.py", "fused.py", "fastsim.py", "torch_backend.py",
           "propagator.py", "surrogate.py", "brian2_backend.py")


@pytest.mark.parametrize("name", CODEGEN)
def test_no_generated_code_is_edited_by_string_replacement(name):
    """``str.replace`` and regular-expression substitution appear nowhere in the code
    that generates code, except Brian2's renaming of a model's own port statements to
    their ``_post`` names (model text, not printed code)."""
    tree = ast.parse((BACKENDS / name).read_text())
    calls = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
                and node.func.attr in ("replace", "sub", "subn"):
            receiver = ast.unparse(node.func.value)
            if receiver in ("os", "dataclasses"):
                continue
            calls.append(ast.unparse(node))
    allowed = {"brian2_backend.py": ["pat.sub(lambda m: m.group(1) + suffix, code)"]}
    assert calls == allowed.get(name, [])
