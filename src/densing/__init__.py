"""densing: capability density of language models and the densing law, with intervals."""

from densing.errors import DensingError, DensingInputError, FitError

__version__ = "0.1.0"

__all__ = ["DensingError", "DensingInputError", "FitError", "__version__"]
