# genai-course: `make lab` to learn, `make test` to check everything.
#
#   make setup      create .venv: CPU PyTorch first, then the course with its lab, test and site extras
#   make lab        open JupyterLab on the lessons (headless: make lab LAB_ARGS="--no-browser --ip=127.0.0.1 --port=8888")
#   make test       exercises in sync, then one pytest run on TEST_WORKERS processes: every test, and
#                   nbval over every executed notebook (lessons load the run's pretrained models)
#   make browser    install Chromium for the browser test (apt-get, as root; make test does it)
#   make sandbox    install bubblewrap, the grader's sandbox (apt-get, as root; make test does it)
#   make test-fast  unit tests only (no model training, no notebook runs)
#   make nbval      re-run every notebooks/*.ipynb and solutions/*.ipynb and compare outputs (lessons train)
#   make notebooks  re-execute every paired notebook and store its outputs in the .ipynb
#   make build      regenerate exercises/ from solutions/
#   make site       the course website in site/_build/html, from the executed notebooks (LESSONS="05 06": a subset)
#   make bench      measure every time budget (median of several runs) and the models' quality; exit 1
#                   if a median is over its budget (runs/bench/report.md)
#   make clean      remove caches and build output (make distclean also removes .venv)

PY ?= python3
VENV = .venv
BIN = $(VENV)/bin
STAMP = $(VENV)/.installed

# Installed before the package so that pip never resolves `torch` on its own: the
# CPU wheel of this exact release is what the course is timed and tested on.
# pyproject.toml's range admits it and nothing newer.
TORCH_PIN ?= torch==2.13.0
# Where to get it. PyPI's Linux wheels are CUDA builds (macOS and Windows ones are CPU);
# on a Linux laptop use: make setup TORCH_INDEX=https://download.pytorch.org/whl/cpu
TORCH_INDEX ?=

# Extra arguments for `jupyter lab`, e.g. LAB_ARGS="--no-browser --ip=127.0.0.1 --port=8888".
LAB_ARGS ?=
# Jupyter refuses to run as root unless told to.
ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root)

NOTEBOOK_DIRS = notebooks solutions
PAIRED_SOURCES = $(wildcard $(addsuffix /*.py,$(NOTEBOOK_DIRS)))
EXECUTED_NOTEBOOKS = $(wildcard $(addsuffix /*.ipynb,$(NOTEBOOK_DIRS)))

# pytest-xdist workers for `make test` and `make nbval` (each notebook stays in one worker,
# in order: conftest.py's scheduler). 2 = the cores the course is budgeted on.
TEST_WORKERS ?= 2
XDIST = -n $(TEST_WORKERS)

# nbval: compare outputs (--nbval, not --nbval-lax); run in this venv's Python whatever
# kernelspecs the machine has (--nbval-current-env); sanitize addresses and progress bars.
# Explicit .ipynb paths, so pytest's testpaths (tests/) are not collected again.
NBVAL_FLAGS = --nbval --nbval-current-env --nbval-sanitize-with tests/nbval_sanitize.cfg \
	--nbval-cell-timeout=600 -p no:cacheprovider

# The browser tests (tests/test_browser.py, tests/test_browser_serve.py) drive this Chromium through Playwright; `make
# browser` installs Debian's package when it is missing and we are root (never `playwright
# install`, which would download a browser build of its own).
CHROMIUM = /usr/bin/chromium

.PHONY: setup browser sandbox lab test test-fast nbval bench build notebooks site clean distclean

setup: $(STAMP)

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade pip
	$(BIN)/python -m pip install "$(TORCH_PIN)" $(if $(TORCH_INDEX),--index-url "$(TORCH_INDEX)")
	$(BIN)/python -m pip install -e ".[lab,test,site]"
	touch $@

# The website from the committed, executed notebooks (nothing re-runs): site/_build/html.
# LESSONS="05 06" builds a workshop's subset; docs/instructors.md says how to publish it.
site: setup
	$(BIN)/python scripts/build_site.py $(if $(LESSONS),--lessons $(LESSONS))

lab: setup
	$(BIN)/jupyter lab --ServerApp.root_dir="$(CURDIR)" --LabApp.default_url=/lab/tree/notebooks $(ROOT_FLAG) $(LAB_ARGS)

browser:
	@if [ -x "$(CHROMIUM)" ]; then \
		:; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "browser: installing Debian's chromium for tests/test_browser*.py"; \
		DEBIAN_FRONTEND=noninteractive apt-get install -y chromium \
			|| { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium; }; \
	else \
		echo "browser: no $(CHROMIUM), so tests/test_browser*.py skip; install it with: sudo apt-get install -y chromium"; \
	fi

# The grader runs learners' code in a bubblewrap sandbox (genai_course/grading/sandbox.py); its
# cheat table (tests/test_grading_cheats.py) needs it: installed here as Chromium is.
sandbox:
	@if command -v bwrap >/dev/null 2>&1; then \
		:; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "sandbox: installing Debian's bubblewrap for the grader"; \
		DEBIAN_FRONTEND=noninteractive apt-get install -y bubblewrap \
			|| { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y bubblewrap; }; \
	else \
		echo "sandbox: no bwrap, so grading runs without a sandbox and its cheat test skips; install it with: sudo apt-get install -y bubblewrap"; \
	fi

# One pytest run: the unit tests and the notebooks share the workers, and lessons run with
# their PRETRAINED switch on (--pretrained-lessons, see conftest.py): each lesson run is trained
# once for the whole run, by `genai-course pretrain`, and shared with the quality tests.
test: setup browser sandbox
	$(BIN)/genai-course build --check
	$(BIN)/python -m pytest $(XDIST) --durations=15 --pretrained-lessons $(NBVAL_FLAGS) tests $(EXECUTED_NOTEBOOKS)

test-fast: setup
	$(BIN)/python -m pytest $(XDIST) tests -m "not slow and not notebooks"

nbval: setup
ifeq ($(strip $(EXECUTED_NOTEBOOKS)),)
	@echo "nbval: no executed notebooks in $(NOTEBOOK_DIRS) yet, nothing to run"
else
	$(BIN)/python -m pytest $(XDIST) $(NBVAL_FLAGS) $(EXECUTED_NOTEBOOKS)
endif

# BENCH_ARGS, e.g. "--only lessons checks --repeat 1" (scripts/bench.py --help lists the groups).
BENCH_ARGS ?=
bench: setup
	$(BIN)/python scripts/bench.py --out runs/bench $(BENCH_ARGS)

build: setup
	$(BIN)/genai-course build

notebooks: setup
ifeq ($(strip $(PAIRED_SOURCES)),)
	@echo "notebooks: no py:percent notebooks in $(NOTEBOOK_DIRS) yet"
else
	$(BIN)/python scripts/execute_notebooks.py $(PAIRED_SOURCES)
endif

clean:
	rm -rf build dist out site .pytest_cache *.egg-info
	find . -path ./$(VENV) -prune -o \( -name __pycache__ -o -name .ipynb_checkpoints \) -type d -print0 | xargs -0 -r rm -rf

distclean: clean
	rm -rf $(VENV)
