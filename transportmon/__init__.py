"""transportmon: audit road checkpoints and coach occupancy against clause (六) of 九府发〔2020〕3号."""

__version__ = "0.1.0"
