"""``neuromod stats``: spike-train statistics of a file (placeholder until the toolkit lands)."""


def add_parser(sub):
    p = sub.add_parser("stats", help="spike-train statistics of a spike file")
    p.add_argument("input", help="spike file (.txt, .csv, .npz, .nix, .nwb)")
    return p


def run(args):
    raise NotImplementedError
