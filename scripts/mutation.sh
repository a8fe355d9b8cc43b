#!/usr/bin/env bash
# Mutation testing of the order path (issue 17): mutmut mutates bot/engine.py, bot/trading/,
# bot/execution/exchange.py and bot/risk/stops.py (configured in pyproject.toml, [tool.mutmut])
# and runs each mutant against only the tests that call the mutated function (mutmut records
# that mapping in a first, traced run of tests/engine and tests/risk).
#
# Resumable: results live in mutants/ (git-ignored). Stop it at any time (Ctrl-C) and run it
# again to continue; a later run re-tests only the functions changed since. Too slow for every
# CI run (about 5,400 mutants, hours on two cores): run it before closing order-path work.
#
#   bash scripts/mutation.sh                  # run or resume, then print the summary
#   bash scripts/mutation.sh --fresh          # discard earlier results first
#   bash scripts/mutation.sh NAME...          # re-test the named mutants only
#   MUTATION_CHILDREN=1 bash scripts/mutation.sh   # parallel workers (default: the core count)
#
# The summary (scripts/mutation_report.py) counts a mutant the tests killed or made time out
# as detected; survivors examined and found equivalent are listed, with reasons, in
# scripts/mutation_accepted.toml.
#
# The fourteen mutations issue 17 names, each against the tests that must kill it, run in minutes:
# scripts/named_mutants.py.
source "$(dirname "$0")/_venv.sh"
install_derivbot "[dev,mutation]"
cd "$ROOT"

if [[ "${1:-}" == "--fresh" ]]; then
    shift
    rm -rf mutants
fi
children="${MUTATION_CHILDREN:-$(nproc)}"
status=0
"$VENV/bin/mutmut" run --max-children "$children" "$@" || status=$?
"$VENV/bin/python" scripts/mutation_report.py --survivors
exit "$status"
