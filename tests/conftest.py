"""Session-wide fixtures come from the plugins under tests/plugins/ (stand-ins for Azure)."""

pytest_plugins: list[str] = [
    "tests.plugins.certs",
    "tests.plugins.arm",
    "tests.plugins.entra",
    "tests.plugins.storage",
    "tests.plugins.host",
    "tests.plugins.provisioner",
    "tests.plugins.reliability",
]
