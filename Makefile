# One command each for what a developer or CI does; see the target comments.
# None of the targets is a file, and prerequisites must run in the order written (the
# environment before the services before the checks), so nothing here runs in parallel.
.PHONY: setup services run lint format types test bench clean
.NOTPARALLEL:

# Python environment: uv and the locked dependencies.
setup:
	bash scripts/setup.sh

# PostgreSQL, MariaDB, RabbitMQ, Redis, QEMU and libvirt, installed, running and provisioned for tests.
services:
	bash scripts/services.sh

# The API on its embedded defaults; it migrates and seeds the database on first start.
run: setup
	uv run cloudplane serve

lint:
	uv run ruff check .
	uv run ruff format --check .

# Sorts imports (a lint rule, so ruff format alone leaves them) and formats.
format:
	uv run ruff check --select I --fix .
	uv run ruff format .

types:
	uv run mypy

# Everything CI checks, in order of cost. -q keeps the output short; pytest still ends with its
# summary line ("N passed ...") and the -ra report of anything skipped or failed.
test: setup services lint types
	uv run pytest -q

# Each benchmark prints its own figures; they are ratios measured in one run.
bench: setup services
	@set -e; for script in bench/*.py; do \
		if [ ! -e "$$script" ]; then echo "bench: no benchmarks in bench/"; break; fi; \
		echo "== $$script"; \
		uv run python "$$script"; \
	done

# Generated state only: the lock file and the virtual environment stay.
clean:
	rm -rf var .pytest_cache .mypy_cache .ruff_cache build dist htmlcov .coverage
	find . -path ./.venv -prune -o -type d -name __pycache__ -exec rm -rf {} +
