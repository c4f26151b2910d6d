"""Networking: networks, ports with IPAM, floating IPs and security groups."""
