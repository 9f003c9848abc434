"""Renderers of verdict objects for people (text) and programs (JSON)."""
