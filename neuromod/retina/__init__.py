"""Models fitted to recorded spike trains of sensory neurons (retinal ganglion cells or
any others): the recording format and loaders (:mod:`.recording`), LN-Poisson, GLM, CNN
and TeCoS-LVM models behind one estimator interface (``fit``, ``score``, ``sample``,
``save``), and one evaluation for all of them (:mod:`.evaluate`).

Submodules are imported on first use.
"""
