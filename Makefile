# Two commands do all set-up on a fresh machine: `make run` and `make test` (README).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test test-quick check format lint install demo clean system-packages

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

## system-packages: what the project needs from Debian, installed when this runs as root with apt-get; otherwise a
## message says what is missing and how to install it (the rest still runs: charts then say they have no font).
##   fonts-noto-cjk  a CJK font for the charts (make run, make test)
##   chromium        the dashboard's browser test drives Debian's Chromium (make test)
##   libreoffice-writer-nogui  the bulletin test renders the Word 简报 to PDF with soffice (make test)
SYSTEM_PACKAGES ?= fonts-noto-cjk chromium libreoffice-writer-nogui
system-packages:
	@missing=""; \
	for package in $(SYSTEM_PACKAGES); do \
	  case "$$package" in \
	    fonts-noto-cjk) fc-list :lang=zh 2>/dev/null | grep -q . || missing="$$missing $$package" ;; \
	    libreoffice-writer-nogui) command -v soffice >/dev/null 2>&1 || missing="$$missing $$package" ;; \
	    *) command -v "$$package" >/dev/null 2>&1 || missing="$$missing $$package" ;; \
	  esac; \
	done; \
	[ -z "$$missing" ] && exit 0; \
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	  echo "安装系统软件包：$$missing"; \
	  apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q $$missing; \
	else \
	  echo "提示：缺少系统软件包$$missing（fonts-noto-cjk：图表的中文字体；chromium：看板的浏览器测试；libreoffice-writer-nogui：简报转 PDF 的测试）。"; \
	  echo "      请以 root 运行 make system-packages，或执行 sudo apt-get install$$missing"; \
	fi

## run: the bot on SQLite (var/duban.db) with the demo campaign and the simulator, on http://127.0.0.1:8000
# The browser is for the tests only.
run: SYSTEM_PACKAGES = fonts-noto-cjk
run: $(STAMP) system-packages
	mkdir -p var
	$(BIN)/duban demo
	@echo "督办已启动：打开 http://127.0.0.1:8000/sim"
# Readable log lines in a terminal (JSON is for servers); replies that mention the dashboard link to it.
	DUBAN_LOG_FORMAT=$${DUBAN_LOG_FORMAT:-console} DUBAN_PUBLIC_URL=$${DUBAN_PUBLIC_URL:-http://127.0.0.1:8000} \
	  $(BIN)/duban serve

## test: the whole suite on SQLite and PostgreSQL (DUBAN_TEST_BACKENDS=sqlite to skip PostgreSQL)
test: $(STAMP) system-packages
	$(BIN)/python -m pytest $(PYTEST_ARGS)

## test-quick: while you work — the chat, plan, reminder and storage tests on SQLite, without the slow ones (no
## PostgreSQL, no browser, no tests/reliability, no Hypothesis or bulk-data runs); make test runs everything
QUICK_TESTS ?= tests/core tests/handlers tests/plan tests/notice tests/exports tests/scheduler tests/storage tests/test_architecture.py
test-quick: $(STAMP)
	DUBAN_TEST_BACKENDS=sqlite $(BIN)/python -m pytest -m "not slow and not browser and not reliability" \
	  $(QUICK_TESTS) $(PYTEST_ARGS)

## check: the gate CI runs before the tests — ruff's lint rules, mypy (pyproject.toml says how strict), ruff's formatting
check: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/ruff format --check .

## format: rewrite the tree the way `make check` wants it
format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

lint: $(STAMP)
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) var .pytest_cache
