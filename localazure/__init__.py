"""Local stand-ins for Azure used by tests and the demo: never imported by ``provisioning``."""
