# Two commands for a fresh machine (see README):
#   make run   -> create .venv, install everything, run the main job on data_samples/
#   make test  -> create .venv if needed, run every test (unit, parity, notebooks, browser),
#                 build the lesson book (make book) and open it in a browser
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test lab install samples clean-venv benchmark benchmark-quick book student instructor

BOOK_TEST := tests/notebooks/test_book_browser.py

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -c constraints.txt -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/classicseg compare data_samples/ --out reports/data_samples --overwrite

# pytest runs everything (notebooks under nbval, whose executions tools/nbcapture.py keeps in
# build/executed/ with per-notebook time and peak RSS); then the book is built from those copies
# and opened in Chromium (the book step is `make book`'s command, so `make -n test` runs nothing).
# Exit status: pytest's (5 = nothing collected), else the book's.
test: $(STAMP)
	$(BIN)/python -m pytest --ignore=$(BOOK_TEST); rc=$$?; \
	$(BIN)/python docs/book/build.py && $(BIN)/python -m pytest -m browser $(BOOK_TEST); \
	rc2=$$?; if [ $$rc -ne 0 ]; then exit $$rc; fi; exit $$rc2

# static site of the executed lessons -> build/book/html (docs/book/build.py)
book: $(STAMP)
	$(BIN)/python docs/book/build.py

# workshop copies of notebooks/*.ipynb: solutions stripped / full (tools/lessons.py)
student: $(STAMP)
	$(BIN)/python tools/lessons.py student build/student

instructor: $(STAMP)
	$(BIN)/python tools/lessons.py instructor build/instructor

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
