"""keibi (警備): a Linux endpoint detection and response agent."""

__version__ = "0.1.0"
