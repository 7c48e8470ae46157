"""Configuration: YAML models at the edge, frozen runtime dataclasses inside."""

from .loader import load_config, parse_config
from .runtime import Pool, Reservation, RuntimeConfig, Subnet

__all__ = ["Pool", "Reservation", "RuntimeConfig", "Subnet", "load_config", "parse_config"]
