"""Run transportmon from a checkout without installing it: ``python cli.py audit``."""

from transportmon.cli import main

if __name__ == "__main__":
    main()
