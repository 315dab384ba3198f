# Two commands do all set-up on a fresh machine: `make run` and `make test` (README).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint install demo clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

## run: the bot on SQLite (var/duban.db) with the demo campaign and the simulator, on http://127.0.0.1:8000
run: $(STAMP)
	mkdir -p var
	$(BIN)/duban demo
	@echo "督办已启动：打开 http://127.0.0.1:8000/sim"
	$(BIN)/duban serve

## test: the whole suite on SQLite and PostgreSQL (DUBAN_TEST_BACKENDS=sqlite to skip PostgreSQL)
test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) var .pytest_cache
