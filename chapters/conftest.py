"""Loads the grading plugin for every `pytest chapters/...` run (see grading/plugin.py)."""

pytest_plugins = ["grading.plugin", "grading.inputs"]
