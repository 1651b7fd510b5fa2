"""Agent configuration: YAML loading and validation with file/key/reason errors."""
