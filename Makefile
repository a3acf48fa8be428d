# The two commands of the README: `make demo` (the main job) and `make test` (the whole test suite).
# Both set everything up on a fresh machine with Python 3.11+; both are idempotent.
.PHONY: setup system-deps demo test lint lock clean

setup:
	@./scripts/setup.sh

system-deps:
	@./scripts/system-deps.sh

demo: setup
	@.venv/bin/intentops demo

test: setup
	@./scripts/test.sh

lint: setup
	@.venv/bin/ruff check . && .venv/bin/ruff format --check . && .venv/bin/mypy

lock:
	@.venv/bin/uv pip compile pyproject.toml --extra dev --generate-hashes --python-version 3.11 --no-header -o requirements.lock -q

clean:
	rm -rf .venv .data .artifacts
