"""The SDK-client fixtures of the ARM emulator's tests."""

from tests.localazure.sdk import aks, credential, env, rm

__all__ = ["aks", "credential", "env", "rm"]
