#!/usr/bin/env bash
# Sets up the project's Python environment: uv, then the locked dependencies (all extras, so the
# RabbitMQ task broker and the libvirt and OpenStack drivers' libraries are there too, and the dev
# group: pytest, mypy, ruff).
# Safe to re-run: each step checks first, so with everything in place this takes well under a
# second.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

# uv drives every other command (make lint, make test, ...); pip is the one installer a fresh
# machine with Python is sure to have.
if ! command -v uv >/dev/null 2>&1; then
  echo "setup: installing uv"
  python3 -m pip install --quiet uv
fi

# The libvirt extra compiles libvirt-python against the system's libvirt, so its headers and
# pkg-config come first (Debian packages, installed as root only when missing).
if ! pkg-config --exists libvirt 2>/dev/null; then
  echo "setup: installing libvirt-dev and pkg-config"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    libvirt-dev pkg-config gcc
fi

# --frozen installs exactly what uv.lock says and fails rather than re-resolve, so every machine
# gets the same versions. Before the first lock exists there is nothing to be frozen to.
if [ -f uv.lock ]; then
  uv sync --all-extras --frozen
else
  uv sync --all-extras
fi
