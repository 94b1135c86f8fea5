"""Device library: one module per device kind, each with a real and a simulated implementation.

Nothing here imports ``edge`` or ``services``: drivers speak to devices and hand back plain
Python values; the services decide what those values mean.
"""
