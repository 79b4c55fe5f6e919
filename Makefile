# Two commands do all set-up on a fresh machine:
#   make demo   creates .venv (newest Python >= 3.12), installs zstsr, runs the main job on the bundled fan scene
#   make test   the same set-up, then the test suite
VENV  := .venv
PY    := $(VENV)/bin/python
STAMP := $(VENV)/.zstsr-installed
DEMO  := out/demo

.PHONY: demo test bench clean

$(STAMP): setup.py pyproject.toml vs_zstsr/_shim/zstsr_shim.c
	@python=$$(scripts/find-python) || exit 1; \
	  if [ ! -x $(PY) ]; then echo "creating $(VENV) with $$python"; "$$python" -m venv $(VENV) || exit 1; fi
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	@# VapourSynth: vspipe refuses to run until `vapoursynth config` maps its vsscript to this venv's
	@# Python; the editable install builds the core.zstsr shim in place, so link it into the plugin folder
	$(VENV)/bin/vapoursynth config
	$(PY) -m vs_zstsr.filter install-plugin
	@touch $(STAMP)

demo: $(STAMP)
	$(PY) examples/demo.py --out $(DEMO)

test: $(STAMP)
	$(PY) -m pytest -q

bench: $(STAMP)
	$(PY) benchmarks/bench_baselines.py --write-docs
	$(PY) -m pytest -q -m slow

clean:
	rm -rf out .pytest_cache build *.egg-info
