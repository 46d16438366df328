# Two entry points (README.md): `make demo` and `make test`. Each installs what it needs into
# .venv first; the install is redone only when pyproject.toml changes.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install demo test unit bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	# torch: the CPU build torch==2.13.0 (pinned in pyproject.toml) for the torch_mlp model and its tests.
	$(BIN)/python -m pip install -q -e ".[test,torch]"
	# The Prefect and MLflow databases migrated once, that every new FEDPE_HOME copies (fedpe/stack/cache.py).
	$(BIN)/python -m fedpe.stack.cache
	touch $(STAMP)

install: $(STAMP)

demo: install
	$(BIN)/fedpe demo

test: install
	$(BIN)/python -m pytest

unit: install
	$(BIN)/python -m pytest tests/unit

bench: install
	$(BIN)/python bench/rounds.py

clean:
	rm -rf $(VENV) build *.egg-info
