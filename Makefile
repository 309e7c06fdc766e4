# neuromod: the two commands of the README (make demo, make test) set everything up themselves.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: venv demo test validate bench docs clean

# Create the virtual environment and install neuromod with pinned versions (constraints.txt);
# spikingjelly, a benchmark peer, without its dependencies (torchvision: see constraints.txt).
$(STAMP): setup.cfg pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --upgrade --quiet pip
	$(PY) -m pip install --quiet -c constraints.txt -e '.[test,docs,bench,scale]'
	$(PY) -m pip install --quiet --no-deps -c constraints.txt spikingjelly
	touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/neuromod demo

test: $(STAMP)
	$(PY) -m pytest -q

validate: $(STAMP)
	$(VENV)/bin/neuromod validate --quick

bench: $(STAMP)
	for b in benchmarks/bench_*.py; do $(PY) $$b || exit 1; done

docs: $(STAMP)
	$(VENV)/bin/sphinx-build -q -b html docs docs/_build/html
	@echo "API reference: docs/_build/html/index.html"

clean:
	rm -rf $(VENV) build dist *.egg-info docs/_build
