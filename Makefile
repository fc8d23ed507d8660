# Common jobs. `make test` and `make demo` install first when needed.
PY      ?= python3
VENV    ?= .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed
SEEDS   ?= 1,2,3,4,5
TORCH   ?= torch==2.13.0
TORCH_CPU_INDEX ?= https://download.pytorch.org/whl/cpu
UV      ?= uv
TEST_WORKERS ?= 2

.PHONY: install lock test test-slow demo stability study-smoke bench gpu-check lint clean

# The venv: torch, then requirements.lock, then blurb_lab itself (editable, --no-deps: the lock
# holds every dependency at the version the test suite passed with). editable_mode=compat puts the
# checkout on sys.path, so Hydra finds hydra_plugins/ there (setuptools' default editable finder,
# used because conf/ is mapped into the package, hides that namespace package from Hydra's scan).
# torch only where none is importable, so a user's own (CUDA) torch is kept. With an NVIDIA GPU
# (nvidia-smi on PATH): $(TORCH) as PyPI serves it, on Linux the CUDA build. Without: the CPU build,
# 2.13.0+cpu from PyTorch's CPU index (PyPI's Linux wheel is the CUDA build, with GBs of nvidia-*
# libraries; on macOS both indexes serve the same CPU wheel). Where that index cannot be reached,
# pip warns, retries for a few seconds and goes on with the indexes and find-links of its own
# configuration (on the project's build machine, /opt/wheels holds 2.13.0+cpu).
$(STAMP): pyproject.toml requirements.lock
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -c "import torch" 2>/dev/null || \
	  if command -v nvidia-smi >/dev/null 2>&1; then $(BIN)/python -m pip install -q $(TORCH); \
	  else $(BIN)/python -m pip install -q $(TORCH) --extra-index-url $(TORCH_CPU_INDEX); fi
	$(BIN)/python -m pip install -q -r requirements.lock
	$(BIN)/python -m pip install -q --no-deps --config-settings editable_mode=compat -e .
	touch $(STAMP)

install: $(STAMP)

# requirements.lock pins every package blurb_lab and its dev extra need (torch's own requirements
# included) at the version .venv holds now, i.e. the versions `make test` passed with; torch and
# blurb_lab are left out (torch: see above). It is for Linux and CPython 3.11, like .venv.
# uv rather than pip-tools: `uv pip compile` is one self-contained binary, so it needs no place in
# the environment it locks (pip-compile must be installed into it, and so would pin itself), and it
# checks pyproject's ranges against the installed versions, failing where they disagree.
# `pip install uv` (anywhere), then `make lock` after changing what .venv holds;
# tests/test_lock.py fails while .venv and the lock differ. torch is kept out of the resolution by an
# override that never applies, and its own requirements are read from the installed torch, so no
# torch index is needed.
lock:
	mkdir -p build/lock
	$(BIN)/python -m pip freeze --all --exclude-editable | grep -v -E '^(pip|torch)==' > build/lock/installed.txt
	$(BIN)/python -c "from importlib.metadata import requires; \
	  print(*(r for r in requires('torch') if 'extra ==' not in r), sep='\n')" > build/lock/torch-requires.txt
	echo "torch; sys_platform == 'never'" > build/lock/no-torch.txt
	$(UV) pip compile pyproject.toml build/lock/torch-requires.txt --extra dev --python $(BIN)/python \
		-c build/lock/installed.txt --override build/lock/no-torch.txt \
		--custom-compile-command "make lock" --annotation-style line -q -o requirements.lock

# The fast tiers, tests/unit and tests/e2e, on TEST_WORKERS pytest-xdist workers (two measurably
# beat one process on 2 cores: docs/development.md).
test: $(STAMP)
	$(BIN)/python -m pytest -q -n $(TEST_WORKERS)

test-slow: $(STAMP)
	$(BIN)/python -m pytest -q -m slow

# The README's main job: the offline MiniLM on BIOSSES, 5 seeds, cross-encoded (BLURB's input, scored
# by MiniLM's cosine head, model.pair_head) and bi-encoded (cosine of mean-pooled sentence vectors),
# with MiniLM's recipes; the per-seed and summary tables end with the trivial and zero-shot
# references and the cosine head's untrained start.
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

# The study's comparison (4 strategies x BLURB's seeds) on the offline MiniLM with its recipes: BIOSSES
# (10 seeds) as BLURB runs it, then GAD (5 seeds) capped to fit a CPU (conf/experiment/stability_gad.yaml); each summary
# table, EVP and strip plot lands in its sweep dir. Extra overrides reach both, e.g.
#   make stability ARGS="trainer.max_epochs=3 \"hydra.sweeper.params.seed='range(1,4)'\""
stability: $(STAMP)
	$(BIN)/python -m blurb_lab experiment=stability_biosses model=minilm trainer.enable_progress_bar=false $(ARGS)
	$(BIN)/python -m blurb_lab experiment=stability_gad model=minilm trainer.enable_progress_bar=false $(ARGS)

# The whole study in miniature on a CPU (blurb_lab/study_smoke.py): stage 1 (recipes chosen on dev),
# stage 2 (2 strategies x 3 tasks x 2 seeds on MiniLM), the study tables, and each stage's plan
# beside its measured wall time, all in $(SMOKE_DIR) (which must not exist or be empty).
SMOKE_DIR ?= multirun_outputs/study_smoke
study-smoke: $(STAMP)
	$(BIN)/python -m blurb_lab.study_smoke $(SMOKE_DIR)

# blurb_lab against a transformers Trainer script on the same work (BENCH_QUICK=1 for a short run).
bench: $(STAMP)
	$(BIN)/python -m blurb_lab.bench

# On a machine with a CUDA GPU, under 8 minutes: same seed twice; one device against accumulation and
# (2+ GPUs) DDP at the same global batch; 4 jobs pinned to one GPU against 4 in a row; speed against
# the Trainer; peak memory per job and the jobs per GPU it allows; bf16 MFU. Writes gpu_check.json;
# exit 1 when a correctness check fails. Without CUDA it stops at once, one line.
gpu-check: $(STAMP)
	$(BIN)/python -m blurb_lab.gpu_check
