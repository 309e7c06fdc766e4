"""Parse model equations written in Brian2's syntax, once, into sympy expressions.

Three kinds of line are understood (one equation per line, ``#`` starts a comment)::

    dv/dt = (E_L - v + R*I)/tau_m : volt (unless refractory)   # differential equation
    I = I_e + I_ext : amp                                       # subexpression
    I_ext : amp                                                 # parameter / input

A discrete-time model (``NeuronModel(updates=...)``) declares its state variables
like inputs, ``v : 1 (unless refractory)``, and gives their update as statements.

Expressions may use ``+ - * / **``, parentheses, numbers and the functions
``exp, log, sqrt, abs, sin, cos, tan, sinh, cosh, tanh, arctan, clip`` and the
constant ``inf`` (``clip(x, 0, inf)`` is a rectifier). The text is
kept verbatim for the Brian2 backend; the sympy form drives the step representation
(:mod:`neuromod.backends.ir`) that every backend prints.
Statements (reset, synaptic ``on_pre``) are ``name = expr``, ``name += expr``,
``-=``, ``*=``, ``/=``, separated by newlines or ``;``.

Examples
--------
>>> eqs = parse_equations("dv/dt = -v/tau : volt")
>>> eqs[0].kind, eqs[0].name, eqs[0].unit
('diff', 'v', 'volt')
"""
import ast
import re
from dataclasses import dataclass, field

from neuromod.units import UNITS, parse_unit
from neuromod.errors import NeuromodError

__all__ = ["Equation", "ModelDefinitionError", "parse_equations", "parse_statements",
           "parse_condition", "identifiers", "to_sympy", "FUNCTIONS", "CONSTANTS"]


class ModelDefinitionError(NeuromodError, ValueError):
    """A model definition that cannot be read (bad equation line, unknown name...)."""


#: Functions allowed in expressions (Brian2 name -> sympy name).
FUNCTIONS = {"exp": "exp", "log": "log", "sqrt": "sqrt", "abs": "Abs", "sin": "sin",
             "cos": "cos", "tan": "tan", "sinh": "sinh", "cosh": "cosh", "tanh": "tanh",
             "arctan": "atan", "clip": "clip"}

#: Named constants of expressions (Brian2's): ``inf``, for one-sided ``clip(x, 0, inf)``.
CONSTANTS = ("inf",)

_ID = r"[A-Za-z_][A-Za-z0-9_]*"
_DIFF = re.compile(rf"^d\s*({_ID})\s*/\s*dt\s*=\s*(.+)$")
_SUB = re.compile(rf"^({_ID})\s*=\s*(.+)$")
_PARAM = re.compile(rf"^({_ID})$")
_FLAGS = re.compile(r"^(.*?)\s*(?:\(([^()]*)\))?\s*$")
KNOWN_FLAGS = ("unless refractory", "constant", "constant over dt", "shared")


@dataclass(frozen=True)
class Equation:
    """One parsed equation line.

    Attributes
    ----------
    kind : {'diff', 'sub', 'param'}
    name : str
    expr : str or None
        Right-hand side, verbatim.
    unit : str
        Unit text as written (``'volt'``).
    dim : tuple of 7 ints
    flags : tuple of str
    """
    kind: str
    name: str
    expr: str
    unit: str
    dim: tuple
    flags: tuple = field(default_factory=tuple)

    def text(self):
        """The line in Brian2 syntax."""
        fl = f" ({', '.join(self.flags)})" if self.flags else ""
        if self.kind == "diff":
            return f"d{self.name}/dt = {self.expr} : {self.unit}{fl}"
        if self.kind == "sub":
            return f"{self.name} = {self.expr} : {self.unit}{fl}"
        return f"{self.name} : {self.unit}{fl}"


def _strip_comment(line):
    return line.split("#", 1)[0].strip()


def parse_equations(text):
    """Parse Brian2-syntax equations into a list of :class:`Equation`.

    Parameters
    ----------
    text : str
        One equation per line.

    Returns
    -------
    list of Equation

    Raises
    ------
    ModelDefinitionError
        Naming the offending line.

    Examples
    --------
    >>> [e.kind for e in parse_equations('''
    ... dv/dt = (I - v)/tau : 1 (unless refractory)
    ... I : 1
    ... ''')]
    ['diff', 'param']
    """
    out = []
    seen = set()
    for lineno, raw in enumerate(str(text).splitlines(), 1):
        line = _strip_comment(raw)
        if not line:
            continue
        if ":" not in line:
            raise ModelDefinitionError(f"equation line {lineno}: missing ': unit' in {line!r}")
        lhs_rhs, unit_flags = line.rsplit(":", 1)
        m = _FLAGS.match(unit_flags.strip())
        unit = m.group(1).strip()
        flags = tuple(f.strip() for f in (m.group(2) or "").split(",") if f.strip())
        for f in flags:
            if f not in KNOWN_FLAGS:
                raise ModelDefinitionError(f"equation line {lineno}: unknown flag {f!r}")
        try:
            dim = parse_unit(unit or "1")
        except NeuromodError as exc:
            raise ModelDefinitionError(f"equation line {lineno}: {exc}") from None
        lhs_rhs = lhs_rhs.strip()
        if (m := _DIFF.match(lhs_rhs)):
            kind, name, expr = "diff", m.group(1), m.group(2).strip()
        elif (m := _SUB.match(lhs_rhs)):
            kind, name, expr = "sub", m.group(1), m.group(2).strip()
        elif (m := _PARAM.match(lhs_rhs)):
            kind, name, expr = "param", m.group(1), None
        else:
            raise ModelDefinitionError(f"equation line {lineno}: cannot read {line!r}")
        if kind == "sub" and "unless refractory" in flags:
            raise ModelDefinitionError(
                f"equation line {lineno}: 'unless refractory' applies to state variables only")
        if name in seen:
            raise ModelDefinitionError(f"equation line {lineno}: {name!r} defined twice")
        seen.add(name)
        if expr is not None:
            try:
                ast.parse(expr, mode="eval")
            except SyntaxError:
                raise ModelDefinitionError(
                    f"equation line {lineno}: cannot parse expression {expr!r}") from None
        out.append(Equation(kind, name, expr, unit or "1", dim, flags))
    if not out:
        raise ModelDefinitionError("no equations given")
    return out


def identifiers(expr):
    """Names used in an expression (functions excluded).

    Examples
    --------
    >>> sorted(identifiers("exp(-t/tau) * v"))
    ['t', 'tau', 'v']
    """
    tree = ast.parse(str(expr), mode="eval")
    funcs = {n.func.id for n in ast.walk(tree) if isinstance(n, ast.Call)
             and isinstance(n.func, ast.Name)}
    return {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)} - funcs - set(CONSTANTS)


_STMT = re.compile(rf"^({_ID})\s*(=|\+=|-=|\*=|/=)\s*(.+)$")


def parse_statements(code):
    """Parse reset / on_pre code into ``[(name, op, expr), ...]``.

    Examples
    --------
    >>> parse_statements("v = v_reset; w += b")
    [('v', '=', 'v_reset'), ('w', '+=', 'b')]
    """
    out = []
    for part in re.split(r"[;\n]", str(code or "")):
        part = _strip_comment(part)
        if not part:
            continue
        m = _STMT.match(part)
        if not m:
            raise ModelDefinitionError(f"cannot read statement {part!r} (write e.g. 'v = v_reset')")
        try:
            ast.parse(m.group(3), mode="eval")
        except SyntaxError:
            raise ModelDefinitionError(f"cannot parse expression in statement {part!r}") from None
        out.append((m.group(1), m.group(2), m.group(3).strip()))
    return out


def parse_condition(text):
    """Split a threshold condition ``lhs > rhs`` into ``(lhs, op, rhs)``.

    Only a single comparison (``>``, ``>=``, ``<``, ``<=``) is accepted: the
    distance ``lhs - rhs`` (or ``rhs - lhs`` for ``<``) feeds the surrogate gradient.

    Examples
    --------
    >>> parse_condition("v > v_th")
    ('v', '>', 'v_th')
    """
    try:
        tree = ast.parse(str(text), mode="eval").body
    except SyntaxError:
        raise ModelDefinitionError(f"cannot parse threshold {text!r}") from None
    if not (isinstance(tree, ast.Compare) and len(tree.ops) == 1):
        raise ModelDefinitionError(f"threshold must be one comparison such as 'v > v_th', got {text!r}")
    ops = {ast.Gt: ">", ast.GtE: ">=", ast.Lt: "<", ast.LtE: "<="}
    op = ops.get(type(tree.ops[0]))
    if op is None:
        raise ModelDefinitionError(f"threshold comparison must be >, >=, < or <=, got {text!r}")
    return ast.unparse(tree.left), op, ast.unparse(tree.comparators[0])


# ---------------------------------------------------------------------------- sympy
def _sympy():
    import sympy
    return sympy


def to_sympy(expr, symbols):
    """Convert an expression string into a sympy expression.

    Parameters
    ----------
    expr : str
    symbols : dict of str to sympy.Symbol
        Every identifier must be in here (so that names such as ``E`` or ``I``
        are never read as sympy constants), except Brian2 unit names (``mV``,
        ``nA``...), which become their SI scale factor.

    Examples
    --------
    >>> import sympy
    >>> to_sympy("exp(-t/tau)", {"t": sympy.Symbol("t"), "tau": sympy.Symbol("tau")})
    exp(-t/tau)
    """
    sp = _sympy()

    def clip(x, lo, hi):
        return sp.Min(sp.Max(x, lo), hi)

    funcs = {k: (clip if k == "clip" else getattr(sp, v)) for k, v in FUNCTIONS.items()}

    def ev(node):
        if isinstance(node, ast.Expression):
            return ev(node.body)
        if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) \
                and not isinstance(node.value, bool):
            v = node.value
            return sp.Integer(v) if isinstance(v, int) else sp.Float(v, 17)
        if isinstance(node, ast.Name):
            if node.id in symbols:
                return symbols[node.id]
            if node.id == "inf":
                return sp.oo
            if node.id in UNITS:       # Brian2 unit names are constants (SI scale)
                return sp.Float(UNITS[node.id][0], 17)
            raise ModelDefinitionError(f"unknown name {node.id!r} in {expr!r}")
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            return -ev(node.operand)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.UAdd):
            return ev(node.operand)
        if isinstance(node, ast.BinOp):
            a, b = ev(node.left), ev(node.right)
            if isinstance(node.op, ast.Add):
                return a + b
            if isinstance(node.op, ast.Sub):
                return a - b
            if isinstance(node.op, ast.Mult):
                return a * b
            if isinstance(node.op, ast.Div):
                return a / b
            if isinstance(node.op, ast.Pow):
                return a ** b
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) \
                and node.func.id in funcs and not node.keywords:
            return funcs[node.func.id](*[ev(a) for a in node.args])
        raise ModelDefinitionError(f"unsupported syntax in {expr!r}: {ast.unparse(node)!r}")

    return ev(ast.parse(str(expr), mode="eval"))
