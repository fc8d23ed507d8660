# Common jobs. `make test` and `make demo` install first when needed.
PY      ?= python3
VENV    ?= .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed
SEEDS   ?= 1,2,3,4,5

.PHONY: install test test-slow demo stability bench gpu-check lint clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	# CPU wheel of torch where none is installed; a user's own (CUDA) torch is kept.
	$(BIN)/python -c "import torch" 2>/dev/null || $(BIN)/python -m pip install -q torch==2.13.0
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

test: $(STAMP)
	$(BIN)/python -m pytest -q

test-slow: $(STAMP)
	$(BIN)/python -m pytest -q -m slow

# The README's main job: the offline MiniLM on BIOSSES, 5 seeds, cross-encoded (BLURB's protocol)
# and bi-encoded (cosine of mean-pooled sentence vectors), with MiniLM's recipe; the per-seed and
# summary tables end with the trivial and zero-shot references.
demo: $(STAMP)
	$(BIN)/python -m blurb_lab task=biosses model=minilm strategy=standard trainer.enable_progress_bar=false \
		-m task.pair_encoding=cross,bi seed=$(SEEDS)

lint: $(STAMP)
	$(BIN)/ruff check blurb_lab hydra_plugins tests
	$(BIN)/ruff format --check blurb_lab hydra_plugins tests

clean:
	rm -rf .cache .pytest_cache .ruff_cache build dist *.egg-info
	find multirun_outputs -mindepth 1 ! -name .gitkeep -exec rm -rf {} +
	find . -name __pycache__ -type d -prune -exec rm -rf {} +

# The study's comparison on BIOSSES (4 strategies x 10 seeds) on the offline MiniLM; the summary
# table and the strip plot land in the sweep dir. Extra overrides, e.g. fewer epochs and seeds:
#   make stability ARGS="trainer.max_epochs=3 \"hydra.sweeper.params.seed='range(1,4)'\""
stability: $(STAMP)
	$(BIN)/python -m blurb_lab experiment=stability_biosses model=minilm trainer.enable_progress_bar=false $(ARGS)

# blurb_lab against a transformers Trainer script on the same work (BENCH_QUICK=1 for a short run).
bench: $(STAMP)
	$(BIN)/python -m blurb_lab.bench

# On a machine with a CUDA GPU: determinism, bf16 speed against the Trainer, MFU, parallel seeds
# per GPU, DDP when 2+ GPUs (writes gpu_check.json). Without CUDA it stops at once, one line.
gpu-check: $(STAMP)
	$(BIN)/python -m blurb_lab.gpu_check
