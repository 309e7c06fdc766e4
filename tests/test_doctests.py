"""The Examples sections of the modules' docstrings run and give what they show."""
import doctest
import importlib
import pkgutil

import pytest

import neuromod

FOUNDATIONS = ("neuromod.spikes", "neuromod.io", "neuromod.stats", "neuromod.units",
               "neuromod.limits", "neuromod.outputs", "neuromod.runtime",
               "neuromod.errors", "neuromod.cli.common", "neuromod.auditory", "neuromod.neurons",
               "neuromod.training", "neuromod.datasets",
               "neuromod.backends", "neuromod.scale")

#: Modules whose docstrings must carry runnable examples (the model-definition API).
MUST_HAVE_EXAMPLES = (
    "neuromod.backends", "neuromod.units", "neuromod.backends.equations",
    "neuromod.backends.model", "neuromod.backends.synapses", "neuromod.backends.surrogate",
    "neuromod.backends.torch_backend", "neuromod.backends.torch_network",
    "neuromod.backends.network", "neuromod.backends.serialize", "neuromod.backends.brian2_backend",
    "neuromod.neurons", "neuromod.neurons.lif", "neuromod.neurons.alif",
    "neuromod.neurons.coba_lif", "neuromod.neurons.networks", "neuromod.neurons.nsnn",
    "neuromod.neurons.renewal", "neuromod.neurons.nsnn.robustness",
    "neuromod.backends.layers", "neuromod.training", "neuromod.datasets",
    "neuromod.neurons.nsnn.fit")


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
    assert [m for m in MUST_HAVE_EXAMPLES if not ATTEMPTED.get(m)] == []


def test_top_level_docstring_examples():
    """The package docstring (SpikeTrains, neuromod.save / neuromod.load) runs as shown;
    the package is not walked as a whole (its subpackages are listed above)."""
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    for test in doctest.DocTestFinder(exclude_empty=True).find(neuromod, "neuromod",
                                                               globs={"neuromod": neuromod}):
        runner.run(test)
    result = runner.summarize(verbose=False)
    assert result.failed == 0 and result.attempted >= 6
