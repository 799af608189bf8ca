# The two set-up commands of the README, and the pieces they are made of.
# Each target installs what it needs, so both work on a fresh clone.

PYTHON ?= python3.11
VENV := .venv
STAMP := $(VENV)/.installed

.PHONY: demo test tools lint bench package-size clean

$(STAMP): pyproject.toml constraints.txt
	@test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	@$(VENV)/bin/pip install -q --disable-pip-version-check -c constraints.txt -e '.[dev]'
	@touch $(STAMP)

## make demo: the whole pipeline, end to end, locally (the main job)
demo: $(STAMP)
	@$(VENV)/bin/stepline demo

## make test: everything CI checks (installs SAM CLI in .venv-tools, checkov in .venv-checkov, a Python 3.12 venv for the Lambda tests and Debian's chromium if missing)
test: $(STAMP) tools
	@$(VENV)/bin/ruff check .
	@$(VENV)/bin/mypy
	@$(VENV)/bin/pytest -n 2 --dist loadgroup

tools:
	@bash .ci/tools.sh
	@bash .ci/browser.sh

lint: $(STAMP)
	@$(VENV)/bin/ruff check .

bench: $(STAMP)
	@$(VENV)/bin/python bench/run.py

## make package-size: sam build (no container, arm64 wheels) and each function's size, unzipped and zipped
package-size: $(STAMP)
	@bash .ci/tools.sh
	@$(VENV)/bin/python bench/package_size.py

clean:
	rm -rf $(VENV) .venv-tools .venv-checkov .venv-py312 .stepline .aws-sam
