"""helhed: cross-department steering data for Danish municipalities."""

__version__ = "0.1.0"
