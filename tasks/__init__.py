"""Built-in task plugins, imported as ``skillfactory.tasks``.

Each plugin is one module named by an entry point in ``pyproject.toml``, exactly as
a third-party plugin would be; the core never imports them by name. Modules that
several plugins share (the word lists, dataset loading) and a plugin's own helper
modules (``countdown_*``) live beside them.
"""
