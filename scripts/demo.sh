#!/usr/bin/env bash
# Install derivbot into .venv and run the offline demo: the bot trades through the real ccxt
# client against the local Binance emulator, replaying a real squeeze episode.
source "$(dirname "$0")/_venv.sh"
install_derivbot ""
cd "$ROOT"
if "$VENV/bin/derivbot" demo --help >/dev/null 2>&1; then
    exec "$VENV/bin/derivbot" demo "$@"
fi
exec "$VENV/bin/derivbot" selfcheck "$@"
