# Entry points (see README):
#   make notebooks   run every numbered notebook at the quick preset (SCALE=cpu|paper for the
#                    others); executed copies and figures go to outputs/, a summary table ends it
#   make test        unit tests, then every numbered notebook under nbval
#   make lab         JupyterLab with the project's kernel, opened on notebooks/
#   make data        download what can be downloaded, verify checksums, say what is missing
# Both create .venv on first use. Data: DEIMOS_DATA_DIR, by default ../shared/data when it
# exists (the offline copies beside this repository), else ./data.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
SCALE ?= quick
OUT ?= outputs
NOTEBOOKS := $(sort $(wildcard notebooks/[0-9][0-9]_*.ipynb))
DEIMOS_DATA_DIR ?= $(if $(wildcard ../shared/data),$(abspath ../shared/data),$(abspath data))
export DEIMOS_DATA_DIR
export TQDM_DISABLE := 1
export MPLBACKEND := Agg
export PYTHONHASHSEED := 0

.PHONY: venv notebooks test test-unit test-notebooks lab data bench readme-figures clean

venv: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade pip
	$(BIN)/python -m pip install -e ".[test,notebooks]"
	$(BIN)/python -m ipykernel install --prefix $(VENV) --name python3 >/dev/null
	touch $(STAMP)

notebooks: $(STAMP)
	$(BIN)/python -m deimos_utils.run_notebooks $(NOTEBOOKS) --scale $(SCALE) --out "$(abspath $(OUT))" \
	  --kernel python3 --timeout 3600

# JupyterLab on the notebooks, with the project's kernel (progress bars are widgets there)
lab: $(STAMP)
	env -u TQDM_DISABLE -u MPLBACKEND $(BIN)/jupyter lab --notebook-dir=notebooks

data: $(STAMP)
	$(BIN)/python -m deimos_utils.data.fetch

# quick results and notebook outputs go to a fresh temporary folder, so that every run trains;
# tests/test_notebook_numbers.py then checks the numbers the notebooks wrote there
test: $(STAMP)
	@tmp=$$(mktemp -d -t deimos-test.XXXXXX); echo "quick results and outputs of this run: $$tmp"; \
	DEIMOS_RESULTS_DIR=$$tmp/results DEIMOS_OUTPUT_DIR=$$tmp/outputs DEIMOS_NOTEBOOK_NUMBERS=required \
	  $(BIN)/python -m pytest tests $(NOTEBOOKS) --nbval-lax --nbval-current-env \
	  --nbval-cell-timeout=1800 -p no:cacheprovider; status=$$?; rm -rf "$$tmp"; exit $$status

test-unit: $(STAMP)
	$(BIN)/python -m pytest tests -q

test-notebooks: $(STAMP)
	$(BIN)/python -m pytest $(NOTEBOOKS) --nbval-lax --nbval-current-env --nbval-cell-timeout=1800

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_deimos.py
	$(BIN)/python benchmarks/bench_baselines.py

# copy the figures the README shows from the last `make notebooks`
readme-figures:
	mkdir -p docs/figures
	cp $(OUT)/figures/01_*.png $(OUT)/figures/02_*.png docs/figures/

clean:
	rm -rf $(OUT) .pytest_cache
