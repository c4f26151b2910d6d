"""cloudplane: a self-hosted cloud control plane."""

__version__ = "0.1.0"
