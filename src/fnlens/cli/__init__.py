"""The ``fnlens`` command. Nothing in the library imports this package."""
