"""featurekit: the team's feature utilities."""

from .interactions import with_interactions

__version__ = "0.3.0"
__all__ = ["with_interactions"]
