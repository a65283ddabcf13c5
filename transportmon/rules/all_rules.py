"""Import every rule module so the registry is complete."""

from . import checkpoints, inputs, trips  # noqa: F401
