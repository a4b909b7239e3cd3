"""The ``villagewatch`` command: the composition root that wires edge, broker and hub.

``edge`` and ``broker`` are libraries that never import each other; only this package (and
the tests) put them together.
"""
