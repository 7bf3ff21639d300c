# Two commands for a fresh machine (see README):
#   make run   -> create .venv, install everything, run the main job on data_samples/
#   make test  -> create .venv if needed, run every test (unit, parity, notebooks, browser)
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test lab install samples clean-venv benchmark benchmark-quick

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -c constraints.txt -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/classicseg compare data_samples/ --out reports/data_samples --overwrite

test: $(STAMP)
	$(BIN)/python -m pytest

lab: $(STAMP)
	$(BIN)/jupyter lab notebooks/

samples: $(STAMP)
	$(BIN)/classicseg samples write data_samples/ --overwrite

# every benchmarks/bench_*.py and peak_rss.py -> reports/benchmark.md (BENCH_ARGS="--only methods")
benchmark: $(STAMP)
	$(BIN)/python benchmarks/run_all.py $(BENCH_ARGS)

benchmark-quick: $(STAMP)
	$(BIN)/python benchmarks/run_all.py --quick $(BENCH_ARGS)

clean-venv:
	rm -rf $(VENV)
