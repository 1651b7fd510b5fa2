"""The exception types every module shares, so callers catch one thing per concern."""


class HitlessError(Exception):
    """Base of every error hitless raises on purpose."""


class ConfigError(HitlessError):
    """A configuration is invalid. Always names the file, the key and the reason."""

    def __init__(self, file: str, key: str, reason: str):
        self.file, self.key, self.reason = str(file), key, reason
        super().__init__(f"{self.file}: {key or '<top>'}: {reason}")


class WireError(HitlessError):
    """Malformed bytes on the wire (TLV, GLBP, sync, BGP). The one type parsers raise."""


class DataplaneError(HitlessError):
    """The XDP data plane could not be loaded, attached or driven."""


class LabError(HitlessError):
    """A lab topology could not be built, inspected or removed."""
