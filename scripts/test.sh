#!/usr/bin/env bash
# Install derivbot with its dev extras into .venv and run the full test suite (ruff + pytest).
# Tools some tests need from Debian (docker-compose to validate docker-compose.yml without an
# engine; chromium + chromedriver for the dashboard test) are installed when missing and we are root.
source "$(dirname "$0")/_venv.sh"
install_derivbot "[dev]"
cd "$ROOT"

need_apt=()
command -v docker-compose >/dev/null 2>&1 || need_apt+=(docker-compose)
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
command -v chromedriver >/dev/null 2>&1 || need_apt+=(chromium-driver)
if ((${#need_apt[@]})); then
    if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
        echo "installing from Debian: ${need_apt[*]}"
        apt-get update -qq >/dev/null 2>&1 || true
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null 2>&1 \
            || echo "warning: could not install ${need_apt[*]}; the tests that need them will skip (fail under CI=true)"
    else
        echo "note: ${need_apt[*]} missing and not root; the tests that need them will skip (fail under CI=true)"
    fi
fi

"$VENV/bin/ruff" check .
exec "$VENV/bin/python" -m pytest -q -p no:cacheprovider "$@"
