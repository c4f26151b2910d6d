"""Flavors and servers: the compute catalogue and the server lifecycle."""
