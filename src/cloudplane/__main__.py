"""``python -m cloudplane`` runs the command line."""

from cloudplane.cli.main import main

main()
