"""The one error type of the weights package."""


class WeightsError(ValueError):
    """A weight or solver-state file that cannot be read, written or matched; the message names the file, and
    where it applies the layer, the blob index and the shapes involved."""
