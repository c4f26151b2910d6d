"""Hypervisor hosts: registered from the driver's configuration, watched, shown to admins."""
