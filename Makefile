# One entry point for developers and CI. Everything runs from .venv; the embedded PostgreSQL and
# Redis come from Python wheels (missive/services.py), so no system services are needed.

PYTHON3 ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# Rebuilt only when pyproject.toml changes (or the virtualenv is missing).
INSTALLED := $(VENV)/.installed
PORT ?= 8000
PYTEST_ARGS ?=
HTMX_VERSION ?= 2

export PORT

.DEFAULT_GOAL := run
.PHONY: install run test check lint browser imap bench clean static editor

install: $(INSTALLED)

$(INSTALLED): pyproject.toml
	test -x $(PY) || $(PYTHON3) -m venv $(VENV)
	$(PY) -m pip install --disable-pip-version-check --progress-bar off -e '.[embedded,dev]'
	touch $@

run: $(INSTALLED)
	$(PY) -m missive.services run

# The browser tests drive Debian's Chromium through Playwright: Playwright's own browser
# download is not reachable from CI, and Debian's package is.
browser:
	@if ! command -v chromium >/dev/null || ! dpkg -s fonts-liberation fonts-noto-color-emoji >/dev/null 2>&1; then \
		apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium fonts-liberation fonts-noto-color-emoji; \
	fi

# The IMAP tests and the sync benchmark start their own Dovecot on loopback (tests/imap_server.py)
# from Debian's packages, with a configuration of their own: the system's service is not used.
imap:
	@if [ ! -x /usr/sbin/dovecot ] || ! dpkg -s dovecot-core dovecot-imapd >/dev/null 2>&1; then \
		apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y dovecot-core dovecot-imapd; \
	fi

test: $(INSTALLED) browser imap
	$(PY) -m missive.services exec -- $(PY) -m pytest $(PYTEST_ARGS)

# mypy imports the settings, which only parse these URLs: no server is needed.
lint: $(INSTALLED)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	DEBUG=true DATABASE_URL=postgres://localhost/missive REDIS_URL=redis://localhost:6379/0 \
		$(VENV)/bin/mypy .

check: lint test

bench: $(INSTALLED) imap
	$(PY) -m missive.services exec -- $(PY) bench/run.py
	$(PY) -m missive.services exec -- $(PY) bench/imap_sync.py
	$(PY) -m missive.services exec -- $(PY) bench/live.py
	$(PY) -m missive.services exec -- $(PY) bench/cowrite.py
	$(PY) -m missive.services exec -- $(PY) bench/sending.py
	$(PY) -m missive.services exec -- $(PY) bench/rules.py
	$(PY) -m missive.services exec -- $(PY) bench/api_messages.py

clean:
	rm -rf var/

# The composer's editor (TipTap + Yjs, frontend/): the committed bundle is rebuilt byte for byte
# from the locked packages. Only this target needs node; `make run` and `make test` do not.
EDITOR_BUNDLE = npx esbuild src/kit.js --bundle --minify --format=iife --target=es2020 \
	--legal-comments=eof --outfile=../static/vendor/editor.bundle.js
editor:
	cd frontend && npm ci --no-audit --no-fund && $(EDITOR_BUNDLE)
	grep -v '^editor ' static/vendor/VERSIONS.txt > static/vendor/VERSIONS.tmp || true
	cd frontend && node versions.js >> ../static/vendor/VERSIONS.tmp
	mv static/vendor/VERSIONS.tmp static/vendor/VERSIONS.txt
	cat static/vendor/VERSIONS.txt

# Vendored front-end files are committed, so `make run` never needs node; this refreshes them.
static:
	tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && \
	(cd "$$tmp" && npm pack --silent htmx.org@$(HTMX_VERSION) >/dev/null && tar -xzf htmx.org-*.tgz) && \
	mkdir -p static/vendor && \
	cp "$$tmp/package/dist/htmx.min.js" static/vendor/htmx.min.js && \
	grep -v '^htmx.org ' static/vendor/VERSIONS.txt > "$$tmp/versions" || true && \
	echo "htmx.org $$(node -p "require('$$tmp/package/package.json').version")" | cat - "$$tmp/versions" > static/vendor/VERSIONS.txt
	cat static/vendor/VERSIONS.txt
