"""The ``derivbot`` command line. Each command group lives in its own module with a
``register(app)`` function; :mod:`bot.cli.main` wires them together."""
