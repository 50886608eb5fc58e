"""A private, real Asterisk for the demo, tests and benchmarks (see sandbox.py)."""

from ivr.sandbox.info import RigEndpoint, SandboxInfo
from ivr.sandbox.sandbox import AsteriskSandbox

__all__ = ["AsteriskSandbox", "RigEndpoint", "SandboxInfo"]
