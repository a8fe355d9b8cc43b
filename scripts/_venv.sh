# Sourced by scripts/demo.sh and scripts/test.sh: create a virtualenv and install derivbot into it
# the same way the Dockerfile does (pip install of this directory, with extras as asked).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${DERIVBOT_VENV:-$ROOT/.venv}"
PYTHON="${PYTHON:-python3}"

"$PYTHON" - <<'PY'
import sys
if sys.version_info < (3, 11):
    sys.exit(f"derivbot needs Python >= 3.11, found {sys.version.split()[0]}")
PY
if [[ ! -x "$VENV/bin/python" ]]; then
    echo "creating virtualenv $VENV"
    "$PYTHON" -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip
install_derivbot() {  # $1: extras, e.g. "[dev]" or ""
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -e "$ROOT$1"
}
