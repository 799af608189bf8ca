#!/usr/bin/env bash
# Installs the command-line tools the template checks (tests/template) need, in
# .venv-tools/, apart from the project venv: the SAM CLI pins versions of boto3,
# pydantic and others that clash with the project's own pins.
#
# Idempotent and quick once installed; silent on success, prints the install log on
# failure. Interpreter: $STEPLINE_TOOLS_PYTHON, else the one behind .venv, else python3.
set -euo pipefail

SAM_CLI_VERSION="1.170.0"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS_VENV="${ROOT}/.venv-tools"

if [[ -x "${TOOLS_VENV}/bin/sam" ]] \
    && [[ "$("${TOOLS_VENV}/bin/sam" --version 2>/dev/null)" == *" ${SAM_CLI_VERSION}" ]]; then
    exit 0
fi

python="${STEPLINE_TOOLS_PYTHON:-}"
if [[ -z "${python}" && -x "${ROOT}/.venv/bin/python" ]]; then
    python="$("${ROOT}/.venv/bin/python" -c 'import sys; print(sys._base_executable)')"
fi
python="${python:-python3}"

log="$(mktemp)"
trap 'rm -f "${log}"' EXIT
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
