# bastion: every target creates .venv when missing and installs the pinned set.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test lint bench bench-peers clean chromium

$(STAMP): pyproject.toml constraints.txt setup.py src/bastion/data/_book_side.pyx
	@test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install -q --upgrade "pip==26.3" 2>/dev/null || true
	$(BIN)/python -m pip install -q -c constraints.txt -e ".[dev]"
	@touch $(STAMP)

$(VENV)/.bench-installed: $(STAMP)
	$(BIN)/python -m pip install -q -c constraints.txt -e ".[dev,bench]"
	@touch $@

demo: $(STAMP)
	$(BIN)/bastion demo

# The kill switch's phone page is tested in headless Chromium (Debian's package).
chromium:
	@test -x /usr/bin/chromium || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update && apt-get install -y chromium; \
	  else sudo -n sh -c 'apt-get update && apt-get install -y chromium' \
	    || echo "warning: /usr/bin/chromium missing and no root: the phone-page test will skip"; fi; }

test: $(STAMP) chromium
	$(BIN)/python -m pytest -q -n 2 --dist loadgroup

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports

bench: $(VENV)/.bench-installed
	$(BIN)/python bench/backtest_throughput.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache build src/*.egg-info
