#!/usr/bin/env bash
# Installs the command-line tools the template checks (tests/template) need, each in
# its own venv apart from the project's: the SAM CLI (.venv-tools/) and the checkov
# policy scanner (.venv-checkov/) pin versions of boto3, pydantic and others that
# clash with the project's own pins, and with each other's.
#
# Idempotent and quick once installed; silent on success, prints the install log on
# failure. Interpreter: $STEPLINE_TOOLS_PYTHON, else the one behind .venv, else python3.
set -euo pipefail

SAM_CLI_VERSION="1.170.0"
CHECKOV_VERSION="3.3.30"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS_VENV="${ROOT}/.venv-tools"
CHECKOV_VENV="${ROOT}/.venv-checkov"

python="${STEPLINE_TOOLS_PYTHON:-}"
if [[ -z "${python}" && -x "${ROOT}/.venv/bin/python" ]]; then
    python="$("${ROOT}/.venv/bin/python" -c 'import sys; print(sys._base_executable)')"
fi
python="${python:-python3}"

log="$(mktemp)"
trap 'rm -f "${log}"' EXIT

# checkov, with everything under it pinned by .ci/checkov-constraints.txt.
if ! [[ -x "${CHECKOV_VENV}/bin/checkov" ]] \
    || [[ "$("${CHECKOV_VENV}/bin/checkov" --version 2>/dev/null)" != "${CHECKOV_VERSION}" ]]; then
    rm -rf "${CHECKOV_VENV}"
    if ! {
        "${python}" -m venv "${CHECKOV_VENV}" \
            && "${CHECKOV_VENV}/bin/python" -m pip install --quiet --disable-pip-version-check \
                -c "${ROOT}/.ci/checkov-constraints.txt" "checkov==${CHECKOV_VERSION}" \
            && "${CHECKOV_VENV}/bin/checkov" --version
    } >"${log}" 2>&1; then
        echo "tools.sh: installing checkov==${CHECKOV_VERSION} into ${CHECKOV_VENV} failed:" >&2
        cat "${log}" >&2
        rm -rf "${CHECKOV_VENV}"
        exit 1
    fi
fi

# Python 3.12, the Lambda runtime template.yaml deploys, with the functions' own
# requirements and what their tests need (tests/functions/test_lambda_runtime_python.py
# runs the Lambda tests with it). Pins: constraints.txt, as for the project venv.
LAMBDA_VENV="${ROOT}/.venv-py312"
LAMBDA_PYTHON="${STEPLINE_LAMBDA_PYTHON:-}"
# python3.12 on PATH only if it runs (a pyenv shim may name a version not selected).
if [[ -z "${LAMBDA_PYTHON}" ]] && python3.12 -c 'import sys' >/dev/null 2>&1; then
    LAMBDA_PYTHON="$(command -v python3.12)"
fi
if [[ -z "${LAMBDA_PYTHON}" ]] && command -v pyenv >/dev/null 2>&1; then
    LAMBDA_PYTHON="$(ls -d "$(pyenv root)"/versions/3.12*/bin/python3.12 2>/dev/null | tail -n 1 || true)"
fi
lambda_stamp="${LAMBDA_VENV}/.installed"
lambda_inputs="$(cat "${ROOT}/constraints.txt" "${ROOT}/functions/requirements.txt" | sha256sum)"
if [[ -n "${LAMBDA_PYTHON}" ]] \
    && ! { [[ -f "${lambda_stamp}" ]] && [[ "$(cat "${lambda_stamp}")" == "${lambda_inputs}" ]]; }; then
    rm -rf "${LAMBDA_VENV}"
    if ! {
        "${LAMBDA_PYTHON}" -m venv "${LAMBDA_VENV}" \
            && "${LAMBDA_VENV}/bin/python" -m pip install --quiet --disable-pip-version-check \
                -c "${ROOT}/constraints.txt" -r "${ROOT}/functions/requirements.txt" \
                boto3 botocore "moto[s3]" pytest \
            && echo "${lambda_inputs}" >"${lambda_stamp}"
    } >"${log}" 2>&1; then
        echo "tools.sh: installing the Python 3.12 Lambda test venv ${LAMBDA_VENV} failed:" >&2
        cat "${log}" >&2
        rm -rf "${LAMBDA_VENV}"
        exit 1
    fi
elif [[ -z "${LAMBDA_PYTHON}" ]]; then
    echo "tools.sh: no python3.12 found (set STEPLINE_LAMBDA_PYTHON): the Lambda tests on" \
        "the deployed runtime cannot run" >&2
fi

if ! [[ -x "${TOOLS_VENV}/bin/sam" ]] \
    || [[ "$("${TOOLS_VENV}/bin/sam" --version 2>/dev/null)" != *" ${SAM_CLI_VERSION}" ]]; then
    # A half-made venv from an interrupted run is rebuilt from scratch.
    rm -rf "${TOOLS_VENV}"
    if ! {
        "${python}" -m venv "${TOOLS_VENV}" \
            && "${TOOLS_VENV}/bin/python" -m pip install --quiet --disable-pip-version-check \
                "aws-sam-cli==${SAM_CLI_VERSION}" \
            && SAM_CLI_TELEMETRY=0 "${TOOLS_VENV}/bin/sam" --version
    } >"${log}" 2>&1; then
        echo "tools.sh: installing aws-sam-cli==${SAM_CLI_VERSION} into ${TOOLS_VENV} failed:" >&2
        cat "${log}" >&2
        rm -rf "${TOOLS_VENV}"
        exit 1
    fi
fi
