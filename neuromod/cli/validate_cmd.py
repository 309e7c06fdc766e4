"""``neuromod validate``: run the papers' claims and report expected vs measured figures."""


def add_parser(sub):
    p = sub.add_parser(
        "validate", help="check the papers' claims (expected vs measured figures)",
        description=(
            "Runs the registered claims (all, or those named: a claim name such as "
            "spiketrum-exact or a family such as spiketrum). Each prints its name, the "
            "statement, the expected figure with its tolerance, the measured figure and "
            "PASS/FAIL. --quick runs each claim at a size that takes under a minute on 2 CPU "
            "cores. Exit status 0 when every claim passes, 1 otherwise, 2 for a bad name."))
    p.add_argument("names", nargs="*", metavar="NAME", help="claims or families to run")
    p.add_argument("--quick", action="store_true", help="small sizes (< 1 minute per claim)")
    p.add_argument("--json", action="store_true",
                   help="print one JSON list of {name, claim, expected, tolerance, measured, "
                        "unit, passed, seconds} (plus details)")
    p.add_argument("--list", action="store_true", help="list the claims and exit")
    return p


def _fmt(v):
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


def run(args):
    import sys
    from neuromod.cli.common import print_json
    from neuromod.errors import NeuromodError
    from neuromod.validation import registry

    try:
        claims = registry.select(args.names)
    except KeyError as exc:
        raise NeuromodError(exc.args[0]) from None
    if args.list:
        for c in claims:
            print(f"{c.name}: {c.statement} (expected {c.expected} {c.unit})")
        return 0

    def show(r):
        if args.json:
            return
        tol = "" if r["tolerance"] is None else f" (tolerance {_fmt(r['tolerance'])})"
        print(f"{r['name']}: {'PASS' if r['passed'] else 'FAIL'} ({r['seconds']:.1f} s)")
        print(f"  claim:    {r['claim']}")
        print(f"  expected: {r['expected']} {r['unit']}{tol}")
        print(f"  measured: {_fmt(r['measured'])} {r['unit']}")
        for k, v in (r.get("details") or {}).items():
            if isinstance(v, dict):
                v = ", ".join(f"{kk}: {_fmt(vv)}" for kk, vv in v.items())
            elif isinstance(v, list):
                v = ", ".join(_fmt(vv) for vv in v)
            print(f"  {k}: {_fmt(v)}")
        sys.stdout.flush()

    results = registry.run([c.name for c in claims], quick=args.quick, on_result=show)
    if args.json:
        print_json(results)
    else:
        n_pass = sum(r["passed"] for r in results)
        print(f"{n_pass}/{len(results)} claims passed")
    return 0 if all(r["passed"] for r in results) else 1
