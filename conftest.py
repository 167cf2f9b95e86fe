"""Wires the scimcert pytest plugin (options, fixtures, hooks); nothing else."""

pytest_plugins = ["scimcert.plugin"]
