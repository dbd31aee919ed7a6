"""The registries every layer reads: stems, the parts of a track, export formats, share
scopes.

Plain data with no dependencies (no Django, no NumPy, no app): the bottom of the house.
The engine, every app, the templates and the admin read the same rows, so a new stem,
format or share scope is a row here (docs/architecture.md says what else each still needs).
"""
