# Two commands on a fresh machine: `make demo` and `make test`.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
DEMO_OUT ?= demo-out
STAMP := $(VENV)/.installed

.PHONY: install demo test bench lint clean

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	# torch/torchvision pinned here and in pyproject.toml; plain pip (not uv/poetry) finds them on local disk
	$(BIN)/pip install -q torch==2.14.1 torchvision==0.29.1
	$(BIN)/pip install -q -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/gansearch train search_spaces/digits.yaml --out $(DEMO_OUT)/digits
	@echo "sample grids: $(DEMO_OUT)/digits/samples/   metrics: $(DEMO_OUT)/digits/metrics.json"

test: $(STAMP)
	$(BIN)/lint-imports
	$(BIN)/pytest -q -ra --durations=15

bench: $(STAMP)
	@echo "see bench/README.md (needs a pytorch/examples checkout for the reference)"

clean:
	rm -rf $(DEMO_OUT) .pytest_cache
