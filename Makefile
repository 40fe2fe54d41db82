PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
NODE_STAMP := node_modules/.installed
PEER_STAMP := bench/peer/node_modules/.installed
.DEFAULT_GOAL := install

.PHONY: run test test-fast lint install clean bench fuzz soak

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

# The whole suite also runs the Node peer of the load benchmark (tests/bench/test_peer.py: the same JSON as ours).
test: install $(PEER_STAMP)
	$(BIN)/ruff check .
	$(BIN)/pytest

# The fast subset, under a minute: everything not marked slow (browsers, PostgreSQL runs, processes of their own,
# tests that wait for real time to pass, long end-to-end runs); the resolvers are tested over in-memory sources.
test-fast: install
	$(BIN)/ruff check .
	$(BIN)/pytest -m "not slow"

# The Node peer of the load benchmark (Apollo Server 5, bench/peer/), pinned by its own package-lock.json into the
# ignored bench/peer/node_modules/ (better-sqlite3 compiles its addon there: about a minute the first time).
$(PEER_STAMP): bench/peer/package.json bench/peer/package-lock.json
	npm ci --prefix bench/peer --no-audit --no-fund
	touch $(PEER_STAMP)

# The latency benchmark (20 ms stand-ins), then the load benchmark (0 ms stand-ins, the gateway, its Node peer and
# the Python floor side by side, 1 and 2 gateway processes, 100 concurrent connections).
bench: install $(PEER_STAMP)
	$(BIN)/python -m bench --floor
	$(BIN)/python -m bench.load --floor

# Generated operations (hypothesis-graphql) against a gateway over the stand-ins: 5,000 per user (admin and read-only);
# `make test` runs 100 each. CCGW_FUZZ_SEED picks another reproducible series.
fuzz: install
	CCGW_FUZZ_EXAMPLES=$${CCGW_FUZZ_EXAMPLES:-5000} $(BIN)/pytest tests/fuzz -s

# Ten minutes of mixed reads and writes, one org flapping, a gateway restart; then exactly-once mirrors, RSS and fds.
soak: install
	$(BIN)/python -m bench.soak --minutes $${SOAK_MINUTES:-10}

clean:
	rm -rf $(VENV) node_modules bench/peer/node_modules
