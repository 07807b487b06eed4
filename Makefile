# Two commands on a fresh machine: `make demo` and `make test`.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
DEMO_OUT ?= demo-out
STAMP := $(VENV)/.installed

.PHONY: install demo demo-train test bench clean

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	# torch/torchvision pinned here and in pyproject.toml; plain pip (not uv/poetry) finds them on local disk
	$(BIN)/pip install -q torch==2.14.1 torchvision==0.29.1
	$(BIN)/pip install -q -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

# A real search on the digits default: 8 trials, Optuna TPE, ASHA, a local Ray, every trial in MLflow.
demo: $(STAMP)
	rm -rf $(DEMO_OUT)/study
	$(BIN)/gansearch run search_spaces/digits.yaml --out $(DEMO_OUT)/study

# One GAN, no search: the trainer alone.
demo-train: $(STAMP)
	$(BIN)/gansearch train search_spaces/digits.yaml --out $(DEMO_OUT)/digits
	@echo "sample grids: $(DEMO_OUT)/digits/samples/   metrics: $(DEMO_OUT)/digits/metrics.json"

test: $(STAMP)
	$(BIN)/lint-imports
	$(BIN)/pytest -q -ra --durations=15

bench: $(STAMP)
	$(BIN)/python bench/search_overhead.py
	@echo "trainer_throughput.py needs a pytorch/examples checkout for its reference: see bench/README.md"

clean:
	rm -rf $(DEMO_OUT) .pytest_cache
