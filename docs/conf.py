"""Sphinx configuration: the API reference built from the numpydoc docstrings (`make docs`).

The user guide is the Markdown pages beside this file, read directly (linked from README.md).
"""
import os
import sys

sys.path.insert(0, os.path.abspath(".."))

project = "neuromod"
author = "neuromod developers"
extensions = ["sphinx.ext.autodoc", "sphinx.ext.autosummary", "numpydoc"]
autosummary_generate = True
numpydoc_show_class_members = False
source_suffix = {".rst": "restructuredtext"}
exclude_patterns = ["_build", "*.md"]
html_theme = "alabaster"
