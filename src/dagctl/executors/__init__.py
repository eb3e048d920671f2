"""WHERE an attempt runs. ``base`` defines the slot; ``threads`` is the default, ``inline`` is for tests."""
