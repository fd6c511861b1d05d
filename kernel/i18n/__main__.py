"""``python -m kernel.i18n <command>``: the catalog commands, usable before anything else is set up."""

from kernel.i18n.cli import i18n

if __name__ == "__main__":
    i18n(prog_name="python -m kernel.i18n")
