"""Import every rule module so the registry is complete."""

from . import checkpoints, inputs  # noqa: F401
