"""Session-wide fixtures come from the plugins under tests/plugins/ (stand-ins for Azure)."""

pytest_plugins: list[str] = ["tests.plugins.certs"]
