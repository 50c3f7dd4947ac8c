# 金仕会 CRM — `make run` to try it, `make test` for the whole suite, `make bench` for the figures.
SHELL := /bin/bash
.DEFAULT_GOAL := run

VENV      := .venv
PY        := $(VENV)/bin/python
# A Python >= 3.12: the one .python-version selects through pyenv, else the first found on PATH.
BASE_PY   ?= $(shell (pyenv which python 2>/dev/null; command -v python3.13 python3.12) | \
               while read p; do "$$p" -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null && { echo "$$p"; break; }; done)
PG_URL    ?= postgres://postgres@127.0.0.1:5432/crm
VENDOR    := crm/core/static/vendor
HOST      ?= 127.0.0.1
PORT      ?= 8000

export DJANGO_SETTINGS_MODULE := config.settings

.PHONY: run test setup venv assets lint typecheck checks test-sqlite test-postgres test-browser i18n-check \
        postgres chromium bench demo clean

$(VENV)/.installed: requirements.lock
	@test -n "$(BASE_PY)" || { echo "需要 Python 3.12 或更高版本 (Python >= 3.12 is required)"; exit 1; }
	test -x $(PY) || $(BASE_PY) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet --require-hashes -r requirements.lock
	touch $@

venv: $(VENV)/.installed

node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error

$(VENDOR)/.copied: node_modules/.package-lock.json
	rm -rf $(VENDOR) && mkdir -p $(VENDOR)/bootstrap $(VENDOR)/bootstrap-icons $(VENDOR)/htmx
	cp node_modules/bootstrap/dist/css/bootstrap.min.css node_modules/bootstrap/dist/css/bootstrap.min.css.map \
	   node_modules/bootstrap/dist/js/bootstrap.bundle.min.js node_modules/bootstrap/dist/js/bootstrap.bundle.min.js.map \
	   $(VENDOR)/bootstrap/
	cp -r node_modules/bootstrap-icons/font/bootstrap-icons.min.css node_modules/bootstrap-icons/font/fonts \
	   $(VENDOR)/bootstrap-icons/
	cp node_modules/htmx.org/dist/htmx.min.js $(VENDOR)/htmx/
	touch $@

assets: $(VENDOR)/.copied

setup: venv assets
	mkdir -p var
	CRM_TESTING=1 $(PY) manage.py compilemessages --ignore=.venv --ignore=node_modules -v 0

## make run: install, migrate SQLite, load the demo data into an empty database, serve at /CRM/
run: setup
	DJANGO_DEBUG=1 $(PY) manage.py migrate --no-input -v 0
	DJANGO_DEBUG=1 $(PY) manage.py demo --if-empty
	@echo ""
	@echo "  金仕会 CRM: http://$(HOST):$(PORT)/CRM/"
	@echo "  演示账号 (初始密码 123456, 首次登录须修改): 管理员, 赵志刚, 王建国, 李明, 张伟, 刘洋, 周丽, 杨帆,"
	@echo "            张伟(销售二组), 陈静, 黄敏, 吴芳, 孙强"
	@echo "  后台任务进程 (大批导入、定时任务) 随之启动, 停止服务时一起停止。"
	@echo ""
	DJANGO_DEBUG=1 $(PY) manage.py db_worker --no-reload -v 0 & worker=$$!; \
	  trap 'kill $$worker 2>/dev/null' EXIT INT TERM; \
	  DJANGO_DEBUG=1 $(PY) manage.py runserver $(HOST):$(PORT)

demo: setup
	DJANGO_DEBUG=1 $(PY) manage.py migrate --no-input -v 0
	DJANGO_DEBUG=1 $(PY) manage.py demo

## make test: lint, types, checks, tests on SQLite and PostgreSQL, browser tests in Chromium
test: setup lint typecheck checks i18n-check test-sqlite postgres test-postgres chromium test-browser

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: venv
	CRM_TESTING=1 $(VENV)/bin/mypy crm config

checks: venv
	CRM_TESTING=1 $(PY) manage.py check --fail-level WARNING
	CRM_TESTING=1 $(PY) manage.py makemigrations --check --dry-run
	DJANGO_DEBUG=0 SECRET_KEY=$$($(PY) -c 'import secrets; print(secrets.token_urlsafe(50))') \
	  ALLOWED_HOSTS=crm.example.com DATABASE_URL=$(PG_URL) $(PY) manage.py check --deploy --fail-level WARNING

i18n-check: venv
	$(PY) scripts/i18n_check.py

# The approval engine (models, rules, approvers, registry, services) must keep 100 % branch coverage.
ENGINE := crm/workflow/engine.py,crm/workflow/approvers.py,crm/workflow/models.py,crm/workflow/registry.py,crm/workflow/services.py,crm/workflow/errors.py

test-sqlite: setup
	CRM_TESTING=1 DATABASE_URL= $(VENV)/bin/pytest -q -n 2 --cov --cov-report=
	$(VENV)/bin/coverage report --include='$(ENGINE)' --fail-under=100

postgres:
	@bash scripts/ensure_postgres.sh

test-postgres: setup postgres
	CRM_TESTING=1 DATABASE_URL=$(PG_URL) $(VENV)/bin/pytest -q -n 2

chromium:
	@command -v chromium >/dev/null || { echo "安装 Chromium (Debian chromium package)…"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-cjk) \
	  || { echo "无法安装 Chromium:请以 root 运行 apt-get install chromium"; exit 1; }; }

test-browser: setup chromium
	CRM_TESTING=1 DATABASE_URL= $(VENV)/bin/pytest -q e2e -p no:xdist

## make bench: the figures in docs/performance.md (not part of make test)
bench: setup postgres
	$(PY) bench/run.py

clean:
	rm -rf $(VENV) node_modules $(VENDOR) staticfiles
