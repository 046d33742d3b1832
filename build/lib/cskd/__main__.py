"""`python -m cskd` runs the command-line interface."""

from cskd.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
