# The two entry points of the README: `make demo` (the main job) and `make test`.
# Each installs what it needs (Debian packages, a virtualenv with pinned Python
# packages, the Cython hot path) and is safe to run again: finished steps are skipped.

SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# libssl-dev: OpenSSL's headers, for the C data plane's session tokens (HMAC), at build time.
DEBIAN_PACKAGES := prometheus openssl libssl-dev lua5.1 chromium fonts-dejavu-core
# Reinstall the Python packages when the dependency pins change.
DEPS_STAMP := $(VENV)/.deps-$(shell cat pyproject.toml setup.py | sha1sum | cut -c1-12)

.PHONY: demo test system venv build clean

demo: system venv build
	$(BIN)/routeshift demo $(DEMO_ARGS)

# Two pytest processes (pytest-xdist), a test file each at a time: most of the suite waits on
# real servers, Prometheus scrapes and dwell times rather than on a core. TEST_WORKERS=0 runs
# everything in one process.
TEST_WORKERS ?= 2

test: system venv build
	$(BIN)/lint-imports --no-cache
	$(BIN)/pytest -n $(TEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

# Debian packages: installed only when dpkg does not have them yet.
system:
	@missing=""; \
	for pkg in $(DEBIAN_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$pkg 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$pkg"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  $$SUDO apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi

venv: $(DEPS_STAMP)

$(DEPS_STAMP):
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip==25.3 setuptools==80.9.0 wheel==0.45.1
	$(BIN)/python -m pip install -q --no-compile -e '.[test]'
	@rm -f $(VENV)/.deps-*
	@touch $@

# Rebuild the Cython hot path in place when its sources changed (a no-op otherwise).
build: venv
	@$(BIN)/python setup.py -q build_ext --inplace 2>&1 | grep -v -e '^running' -e 'SetuptoolsDeprecationWarning' || true

clean:
	rm -rf $(VENV) build *.egg-info
	find gateway_proxy -name '*.so' -delete -o -name '*.c' -delete
