"""The pytest plugin's machinery; the plugin itself is :mod:`harness.plugin`.

Nothing here is imported until a fixture or a hook needs it, so ``pytest --help``
stays fast.
"""
