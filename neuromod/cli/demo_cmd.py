"""``neuromod demo``: the main job on the embedded data."""


def add_parser(sub):
    p = sub.add_parser("demo", help="run the main job on the embedded data")
    return p


def run(args):
    raise NotImplementedError
