"""Import every rule module so the registry is complete."""

from . import checkpoints, inputs, routes, trips  # noqa: F401
