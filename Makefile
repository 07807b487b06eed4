# Two commands on a fresh machine: `make demo` and `make test`.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
DEMO_OUT ?= demo-out
STAMP := $(VENV)/.installed

.PHONY: install demo demo-train test test-fast docs bench constraints clean

# constraints.txt: every package version the suite passed with (torch, torchvision and what their pins
# decide are installed first, from local disk). Refresh it with `make constraints` after changing a dependency.
$(STAMP): pyproject.toml constraints.txt
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	# torch/torchvision pinned here and in pyproject.toml; plain pip (not uv/poetry) finds them on local disk
	$(BIN)/pip install -q torch==2.14.1 torchvision==0.29.1
	$(BIN)/pip install -q -c constraints.txt -e '.[test,docs]'
	touch $(STAMP)

install: $(STAMP)

# A real search on the digits default: 8 trials, Optuna TPE (no early stopping), a local Ray, every trial in MLflow.
demo: $(STAMP)
	rm -rf $(DEMO_OUT)/study
	$(BIN)/gansearch run search_spaces/digits.yaml --out $(DEMO_OUT)/study

# One GAN, no search: the trainer alone.
demo-train: $(STAMP)
	$(BIN)/gansearch train search_spaces/digits.yaml --out $(DEMO_OUT)/digits
	@echo "sample grids: $(DEMO_OUT)/digits/samples/   metrics: $(DEMO_OUT)/digits/metrics.json"

# Two workers, one test file each at a time (--dist loadfile keeps a file's module state together): the
# studies spend much of their time waiting (Ray and server start-up, fault pauses), so two overlap well.
test: $(STAMP)
	$(BIN)/lint-imports
	$(BIN)/pytest -n 2 --dist loadfile -q -ra --durations=15

# The quick loop: everything but the tests marked slow (real studies, long trainings).
test-fast: $(STAMP)
	$(BIN)/pytest -n 2 --dist loadfile -q -ra -m "not slow"

# The docs site (docs/, mkdocs.yml) into site/: --strict fails on a broken link, anchor or missing page, and
# docs/spaces.md's reference is generated from the schema at build time (mkdocs_hooks.py).
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --quiet

constraints: $(STAMP)
	{ echo "# Every package version the test suite passed with; make and .ci/run install through it."; \
	  echo "# torch/torchvision (and the CUDA wheels their pins decide) come first, from local disk. Refresh: make constraints"; \
	  $(BIN)/pip freeze --exclude-editable | grep -v -E '^(torch|torchvision|triton)==|^nvidia-|^-e '; } > constraints.txt.new
	mv constraints.txt.new constraints.txt

bench: $(STAMP)
	$(BIN)/python bench/search_overhead.py
	@echo "trainer_throughput.py needs a pytorch/examples checkout for its reference: see bench/README.md"

clean:
	rm -rf $(DEMO_OUT) .pytest_cache site
