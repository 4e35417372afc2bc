"""Built-in skill, sampler and trainer plugins, imported as ``skillfactory.plugins``.

Each module here is one plugin, registered through an entry point in
``pyproject.toml`` exactly as a third-party plugin would be; the core never
imports them by name.
"""
