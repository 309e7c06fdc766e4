"""The sections loop shared by the benchmark scripts that have ``--sections``: run each
chosen section in the script's order and gather its JSON part, printed lines and whether
its targets were reached."""
import time


def run_sections(sections, names, args):
    """``(done, lines, ok, wall_s)`` of running ``sections[name](args)`` for every name of
    ``sections`` (in its order) that is in ``names``; each section returns ``(json part,
    printed lines, checks passed)``."""
    done, lines, ok = {}, [], True
    t0 = time.perf_counter()
    for name in (s for s in sections if s in names):
        data, text, sec_ok = sections[name](args)
        done[name] = data
        lines += text
        ok &= sec_ok
    return done, lines, ok, time.perf_counter() - t0
