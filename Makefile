# Two commands do all set-up on a fresh machine: `make run` and `make test` (README).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint install demo clean fonts

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

## fonts: a CJK font for the charts (Debian's fonts-noto-cjk, when this machine has none and we may install it)
fonts:
	@fc-list :lang=zh 2>/dev/null | grep -q . || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null \
	  && apt-get update -q && apt-get install -y -q fonts-noto-cjk; } || echo "提示：未找到中文字体，图表不可用；请安装 fonts-noto-cjk（Debian/Ubuntu）。"

## run: the bot on SQLite (var/duban.db) with the demo campaign and the simulator, on http://127.0.0.1:8000
run: $(STAMP) fonts
	mkdir -p var
	$(BIN)/duban demo
	@echo "督办已启动：打开 http://127.0.0.1:8000/sim"
	DUBAN_LOG_FORMAT=$${DUBAN_LOG_FORMAT:-console} $(BIN)/duban serve  # readable lines in a terminal; JSON is for servers

## test: the whole suite on SQLite and PostgreSQL (DUBAN_TEST_BACKENDS=sqlite to skip PostgreSQL)
test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) var .pytest_cache
