"""The ``cloudplane`` command line; ``cloudplane.cli.main:main`` is its entry point."""
