"""The `hitless` command line."""
