"""Demo data: realistic multi-channel support histories, loaded in bulk.

`heedful demo` (core/management/commands/demo.py) calls `generator.load_demo`.
This is a plain package, not a Django app: it owns no models.
"""
