"""Every name neuromod.stats promises resolves to a callable of its submodule."""
import neuromod.stats as stats


def test_every_exported_name_resolves():
    for name in stats.__all__:
        assert callable(getattr(stats, name)), name


def test_package_docstring_example():
    assert stats.cv([[0.0, 0.25, 0.5, 0.75]]).tolist() == [0.0]
