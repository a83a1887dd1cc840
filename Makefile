# keibi: `make run` installs and starts the agent; `make test` installs what the tests
# need (Debian packages for the real daemons, a venv on Debian's python3) and runs them.
PYTHON ?= /usr/bin/python3
VENV   ?= .venv
BIN     = $(VENV)/bin
# Debian packages the tests start for real (sshd, rsyslogd, auditd, fail2ban-regex for bench)
TEST_DEBS = rsyslog openssh-server openssh-client sshpass auditd fail2ban cron iproute2 nftables python3-venv python3-dev gcc

.PHONY: run install test test-deps lint typecheck pytest bench clean

run: install
	$(BIN)/keibi run

# byte-compiled up front, as a regular pip install does: an editable install leaves it
# to the first import, which never happens where PYTHONDONTWRITEBYTECODE is set (each
# `keibi` start, and each parse worker, would compile every module again)
install: $(VENV)/.installed
	@$(BIN)/python -m compileall -q src/keibi

$(VENV)/.installed: pyproject.toml
	@test -x $(PYTHON) || { apt-get update -qq && apt-get install -y -qq python3 python3-venv; }
	@$(PYTHON) -c 'import ensurepip' 2>/dev/null || { apt-get update -qq && apt-get install -y -qq python3-venv; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	touch $@

test-deps:
	@missing=$$(for p in $(TEST_DEBS); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages: $$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi

test: test-deps install lint typecheck pytest

lint:
	$(BIN)/ruff check src tests bench

typecheck:
	$(BIN)/mypy

pytest:
	$(BIN)/pytest -q

bench: install test-deps
	$(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) build *.egg-info
