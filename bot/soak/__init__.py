"""The soak (issue 11, Part 3): the real bot process against the hostile emulator, killed and
restarted, checked from the outside.

* :mod:`bot.soak.checks`: the consistency checks, pure functions over plain records, so each can
  be shown to fail on a hand-made inconsistent input;
* :mod:`bot.soak.observer`: reads the venue (its own ccxt client) and the journal into those records;
* :mod:`bot.soak.harness`: runs the emulator and the bot as processes, drives ``/_sim/``, kills and
  restarts, samples protection continuously and runs the checks.

``scripts/soak.py`` is the command line; ``tests/soak/`` runs a short soak in the suite.
"""
