# HVT entry points. Every target installs what is missing first (tools/install.sh, idempotent).
#   make demo   - generate the shapes demo data, train a small ViTAEv2 on it, evaluate, plot curves
#   make test   - the whole test suite (this is what CI runs)
# PYTHON=/path/to/python make ...  uses that environment instead of .venv/
PY := $(if $(PYTHON),$(PYTHON),$(CURDIR)/.venv/bin/python)
DEMO_DATA ?= data/demo
DEMO_CONFIG ?= configs/demo/vitaev2-demo_shapes.py
PYTEST_ARGS ?=

.PHONY: install demo test data

install:
	@bash tools/install.sh

data: install
	@$(PY) tools/misc/make_tiny_datasets.py --out $(DEMO_DATA) --tasks imagenet \
		--train-per-class 200 --val-per-class 50 --seed 0

demo: data
	@$(PY) tools/train.py $(DEMO_CONFIG) --work-dir work_dirs/demo
	@$(PY) tools/analysis/plot_curves.py work_dirs/demo --out work_dirs/demo/curves.png

test: install
	@$(PY) -m pytest tests -q $(PYTEST_ARGS)
