"""Import every rule module so the registry is complete."""

from . import checkpoints, inputs, trips, waivers  # noqa: F401
