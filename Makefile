# Everything runs in .venv, created on first use. Override TORCH for a GPU build, e.g.
#   make test TORCH="torch==2.13.0 --index-url https://download.pytorch.org/whl/cu128"
# The default pins the CPU wheel this project's machines carry locally.
PYTHON ?= python3
VENV   ?= .venv
TORCH  ?= torch==2.13.0
EXTRAS ?= train,infer,dev
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell echo '$(TORCH) $(EXTRAS)' | cksum | cut -d' ' -f1)

.PHONY: install test test-fast test-timm lint format summary bench train train-seg clean

install: $(STAMP)

# rtmlib, the reference the person detector's tests compare with, comes with dev but without
# its dependencies: it asks for opencv-python and opencv-contrib-python, whose cv2 would
# overwrite opencv-python-headless's (and they need libGL); what it imports is installed.
RTMLIB := "rtmlib==0.0.16"

# Re-installs only when pyproject.toml, TORCH or EXTRAS change.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet $(TORCH)
	$(BIN)/python -m pip install --quiet -e ".[$(EXTRAS)]"
	case ",$(EXTRAS)," in *,dev,*) $(BIN)/python -m pip install --quiet --no-deps $(RTMLIB);; esac
	rm -f $(VENV)/.installed-*
	touch $@

LINTED := src tests benchmarks experiments notebooks

lint: install
	$(BIN)/ruff check $(LINTED)
	$(BIN)/ruff format --check $(LINTED)

format: install
	$(BIN)/ruff format $(LINTED)
	$(BIN)/ruff check --fix $(LINTED)

# Everything, as CI runs it. The notebooks run headless on generated data
# (LITE_HRNET_NOTEBOOK_FAST: tiny sizes).
# OpenVINO's tests run in a pytest process of their own: a process that has run OpenVINO
# and then forks (DataLoader workers, generator pools) can crash in a later garbage collection.
test: install lint
	$(BIN)/python -m pytest -q -m "not openvino" --durations=15
	$(BIN)/python -m pytest -q -m openvino --durations=10
	LITE_HRNET_NOTEBOOK_FAST=1 $(BIN)/python -m pytest -q --nbmake --nbmake-timeout=600 notebooks
	$(MAKE) test-timm

# timm and segmentation_models_pytorch import torchvision, and no torchvision build imports
# beside the CPU torch 2.13.0 wheel. Their tests (tests/test_timm.py, skipped in .venv) run
# in a second venv on torch 2.14.1 + torchvision 0.29.1, which this machine's pip takes from
# its disk (CUDA builds, run on the CPU).
TIMM_VENV  ?= .venv-timm
TIMM_TORCH ?= torch==2.14.1 torchvision==0.29.1
TIMM_STAMP := $(TIMM_VENV)/.installed-$(shell echo '$(TIMM_TORCH)' | cksum | cut -d' ' -f1)

$(TIMM_STAMP): pyproject.toml
	test -x $(TIMM_VENV)/bin/python || $(PYTHON) -m venv $(TIMM_VENV)
	$(TIMM_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(TIMM_VENV)/bin/python -m pip install --quiet $(TIMM_TORCH)
	$(TIMM_VENV)/bin/python -m pip install --quiet -e ".[train,timm,hub,dev]" $(TIMM_TORCH)
	rm -f $(TIMM_VENV)/.installed-*
	touch $@

test-timm: $(TIMM_STAMP)
	LITE_HRNET_REQUIRE_TIMM=1 $(TIMM_VENV)/bin/python -m pytest -q -p no:cacheprovider tests/test_timm.py

# The quick set while working: without the tests marked slow, ddp or notebooks.
test-fast: install
	$(BIN)/python -m pytest -q -m "not slow and not ddp and not notebooks"

summary: install
	@for m in lite_hrnet_18 lite_hrnet_30 naive_lite_hrnet_18 wider_naive_lite_hrnet_18; do \
		$(BIN)/lite-hrnet summary $$m --input 256x192; done

# Speed tables in benchmarks/results/{cpu,cuda}.{md,json}; e.g. BENCH_ARGS="--quick" or
# BENCH_ARGS="--device cuda". The first run compiles with Inductor (cached afterwards).
bench: install
	$(BIN)/python -m benchmarks.bench $(BENCH_ARGS)

# OpenMP threads that wait for each other spin before they sleep. When other work shares
# the cores, a spinning thread takes the CPU from the one it waits for; a short spin keeps
# the idle machine's speed and changes no result. Measurements:
# docs/training.md#training-on-a-shared-machine.
train train-seg test test-fast: export GOMP_SPINCOUNT ?= 10000

# Lite-HRNet-18 on generated persons in the COCO 2017 layout (written on first use to
# $$LITE_HRNET_CACHE or ~/.cache/lite-hrnet): CPU, under 15 minutes; prints the COCO AP
# table (pycocotools, synthetic val, ground-truth boxes) and saves checkpoint + PNG.
train: install
	$(BIN)/lite-hrnet train experiment=synthetic_coco

# Lite-HRNet-18 on generated street scenes in the Cityscapes layout (written on first use
# to $$LITE_HRNET_CACHE or ~/.cache/lite-hrnet): CPU, under 15 minutes; prints the
# per-class IoU table of the synthetic val split.
train-seg: install
	$(BIN)/lite-hrnet train experiment=synthetic_cityscapes

clean:
	rm -rf $(VENV) $(TIMM_VENV) build dist src/*.egg-info .pytest_cache .ruff_cache
