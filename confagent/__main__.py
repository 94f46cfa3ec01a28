"""``python -m confagent``: the command line."""

from confagent.cli import run_program

run_program()
