"""``python -m dagctl``."""

from .cli import entry

if __name__ == "__main__":
    entry()
