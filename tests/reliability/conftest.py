"""Shared settings of the reliability suite.

Hypothesis runs deterministically (``derandomize=True``), keeps no example
database and has no deadline (the machine is shared); each fuzz test sets its own
``max_examples``.
"""
from hypothesis import HealthCheck, settings

settings.register_profile(
    "neuromod-reliability", derandomize=True, database=None, deadline=None,
    print_blob=True, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.function_scoped_fixture])
settings.load_profile("neuromod-reliability")
