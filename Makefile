PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
NODE_STAMP := node_modules/.installed
.DEFAULT_GOAL := install

.PHONY: run test test-fast lint install clean bench

$(STAMP): pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev,otel]'
	touch $(STAMP)

# Browser assets (GraphiQL, React) come from the npm registry into the ignored node_modules/, pinned by
# package-lock.json; reinstalled when node_modules is missing or the lock file changed.
$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund
	touch $(NODE_STAMP)

install: $(STAMP) $(NODE_STAMP)

run: install
	$(BIN)/ccgw demo

test: install
	$(BIN)/ruff check .
	$(BIN)/pytest

# The fast subset: everything not marked slow (browsers, killed and restarted processes, the demo, hundreds of
# concurrent writes); the resolver tests run against in-memory sources.
test-fast: install
	$(BIN)/ruff check .
	$(BIN)/pytest -m "not slow"

bench: install
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) node_modules
