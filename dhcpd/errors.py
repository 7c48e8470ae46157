"""The root of every error the server raises on purpose (the codec has its own family)."""


class DhcpdError(Exception):
    """Base class for the server's own errors."""


class ConfigError(DhcpdError):
    """The configuration is invalid; `errors` lists every problem with its YAML path."""

    def __init__(self, source: str, errors: list[str]) -> None:
        self.source = source
        self.errors = errors
        super().__init__(f"{source}: " + "; ".join(errors))


class LeaseStoreError(DhcpdError):
    """The lease store failed; nothing that depended on the write may be sent."""
