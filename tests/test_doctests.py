"""The Examples sections of the foundation modules' docstrings run and give what they show."""
import doctest
import importlib
import pkgutil

import pytest

import neuromod

FOUNDATIONS = ("neuromod.spikes", "neuromod.io", "neuromod.stats", "neuromod.units",
               "neuromod.errors", "neuromod.cli.common", "neuromod.auditory", "neuromod.neurons")


def _modules():
    names = []
    for base in FOUNDATIONS:
        mod = importlib.import_module(base)
        names.append(base)
        if hasattr(mod, "__path__"):
            names += [m.name for m in pkgutil.walk_packages(mod.__path__, base + ".")]
    return sorted(set(names))


@pytest.mark.parametrize("name", _modules())
def test_docstring_examples(name):
    mod = importlib.import_module(name)
    finder = doctest.DocTestFinder(exclude_empty=True)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    for test in finder.find(mod, name, globs=dict(vars(mod))):
        runner.run(test)
    result = runner.summarize(verbose=False)
    assert result.failed == 0, f"{result.failed} docstring example(s) failed in {name}"
    ATTEMPTED[name] = result.attempted


ATTEMPTED = {}


def test_the_examples_were_found():
    # runs after the parametrised tests (file order): most foundation modules carry examples
    assert sum(ATTEMPTED.values()) > 50
