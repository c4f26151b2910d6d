"""Shared mechanisms every feature uses: database, errors, pagination, auth, tasks."""
