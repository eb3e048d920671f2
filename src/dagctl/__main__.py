"""``python -m dagctl``."""

from dagctl.cli import entry

if __name__ == "__main__":
    entry()
