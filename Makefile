# Two entry points (see README):
#   make notebooks   run every numbered notebook at the quick preset (executed copies and
#                    figures go to outputs/)
#   make test        unit tests, then every numbered notebook under nbval
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

.PHONY: venv notebooks test test-unit test-notebooks bench readme-figures clean

venv: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade pip
	$(BIN)/python -m pip install -e ".[test,notebooks]"
	$(BIN)/python -m ipykernel install --prefix $(VENV) --name python3 >/dev/null
	touch $(STAMP)

notebooks: $(STAMP)
	mkdir -p $(OUT)/notebooks
	for nb in $(NOTEBOOKS); do \
	  $(BIN)/papermill "$$nb" "$(OUT)/notebooks/$$(basename $$nb)" -k python3 --cwd notebooks \
	    -p scale $(SCALE) -p output_dir "$(abspath $(OUT))" --execution-timeout 3600 \
	    || exit 1; \
	done
	@echo "Executed notebooks in $(OUT)/notebooks, figures in $(OUT)/figures"

test: $(STAMP)
	$(BIN)/python -m pytest tests $(NOTEBOOKS) --nbval-lax --nbval-current-env \
	  --nbval-cell-timeout=1800 -p no:cacheprovider

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
