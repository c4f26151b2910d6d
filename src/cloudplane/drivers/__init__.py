"""Backends that run what the database describes: simulator, libvirt, OpenStack."""
