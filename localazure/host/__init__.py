"""A local stand-in for the Functions host (``func start``): queue and HTTP triggers.

Dev and test tool only; production code never imports it.

- :class:`localazure.host.process.LocalHost` runs ``python -m localazure.host`` in a child process.
- :class:`localazure.host.runtime.FunctionHost` is the same host in-process.
- :mod:`localazure.host.listener` and :mod:`localazure.host.policy` hold the queue semantics.
"""

from localazure.host.config import HostConfigError, QueuesOptions, parse_host_json
from localazure.host.process import LocalHost, LocalHostError

__all__ = ["HostConfigError", "LocalHost", "LocalHostError", "QueuesOptions", "parse_host_json"]
