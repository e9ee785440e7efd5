# The template's own test suite. `make test` goes from a fresh Debian machine to pytest: it
# installs the Debian packages and uv the suite uses, starts the loopback database servers when
# they are down, then runs `uv run pytest $(PYTEST_ARGS)`. What it cannot provide (Node.js 20.19+,
# a server that is not installed) stops pytest before the first test, in one line that names it.
#   make test PYTEST_ARGS='-n0 tests/test_render.py -k fastapi-sqlite-none'

SHELL := bash
.SHELLFLAGS := -euo pipefail -c
.ONESHELL:
.DEFAULT_GOAL := test
.PHONY: test bench system-packages servers
# Exported so the recipe can print it without the shell reading its quotes and parentheses.
export PYTEST_ARGS BENCH_ARGS
# Bytecode cached on disk: where the machine turns it off, every interpreter the suite starts
# (pytest's workers, schemathesis, each generated service) would compile its imports anew.
unexport PYTHONDONTWRITEBYTECODE

# Root installs and starts directly; anyone else through sudo, when there is one.
SUDO := $(if $(filter 0,$(shell id -u)),,$(shell command -v sudo))

define ensure_uv
if ! command -v uv >/dev/null; then
	echo "==> uv"
	python3 -m pip install --quiet uv
	# pip's scripts directory may be off PATH; generated Python projects call uv from there.
	PATH="$$(python3 -c 'import os, uv; print(os.path.dirname(uv.find_uv_bin()))'):$$PATH"
fi
endef

test: system-packages servers
	@$(ensure_uv)
	echo "==> uv run pytest $$PYTEST_ARGS"
	uv run pytest $(PYTEST_ARGS)

# Not a test: the generated services beside hand-written references, driven by wrk (see
# bench/http_tasks.py and README's "Benchmarks").
#   make bench BENCH_ARGS='--frameworks fastapi --databases postgresql,sqlite --passes 3'
bench: system-packages servers
	@$(ensure_uv)
	if ! command -v wrk >/dev/null; then
		echo "==> Debian package: wrk"
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q wrk
	fi
	uv run --group bench python bench/http_tasks.py $(BENCH_ARGS)

# PgBouncer, the database clients, what Django's mysqlclient compiles against, and the browser
# that renders /docs.
system-packages:
	@missing=()
	command -v git >/dev/null || missing+=(git)
	command -v pgbouncer >/dev/null || [ -x /usr/sbin/pgbouncer ] || missing+=(pgbouncer)
	command -v psql >/dev/null || missing+=(postgresql-client)
	command -v mariadb >/dev/null || missing+=(mariadb-client)
	pkg-config --exists mysqlclient 2>/dev/null || pkg-config --exists mariadb 2>/dev/null \
		|| missing+=(default-libmysqlclient-dev pkg-config)
	command -v chromium >/dev/null || missing+=(chromium)
	if [ $${#missing[@]} -eq 0 ]; then exit 0; fi
	echo "==> Debian packages: $${missing[*]}"
	if ! command -v apt-get >/dev/null || { [ "$$(id -u)" != 0 ] && [ -z "$(SUDO)" ]; }; then
		echo "cannot install them here (apt-get as root or through sudo); pytest names what its tests need"
		exit 0
	fi
	export DEBIAN_FRONTEND=noninteractive
	$(SUDO) apt-get update -q
	$(SUDO) apt-get install -y -q "$${missing[@]}"
	# Debian starts a pgbouncer service on install; the tests start their own.
	$(SUDO) service pgbouncer stop >/dev/null 2>&1 || true

# The loopback PostgreSQL (5432, user postgres, trust) and MariaDB (3306, root, no password),
# started when they are installed but down.
servers:
	@postgresql_up() { pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; }
	mariadb_up() { mariadb-admin -h 127.0.0.1 -u root status >/dev/null 2>&1; }
	started=()
	if ! postgresql_up && [ -d /etc/postgresql ]; then
		echo "==> Starting PostgreSQL"
		$(SUDO) pg_ctlcluster --skip-systemctl-redirect "$$(ls /etc/postgresql | sort -V | tail -1)" main start \
			&& started+=(postgresql_up)
	fi
	if ! mariadb_up && [ -x /usr/sbin/mariadbd ]; then
		echo "==> Starting MariaDB"
		$(SUDO) start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd \
			&& started+=(mariadb_up)
	fi
	for ready in "$${started[@]}"; do
		for _ in $$(seq 60); do "$$ready" && break; sleep 1; done
	done
