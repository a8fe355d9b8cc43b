"""Allow ``python -m bot`` as an alias of the ``derivbot`` console script."""

from bot.cli.main import run

if __name__ == "__main__":
    run()
