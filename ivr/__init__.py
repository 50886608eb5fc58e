"""Watchline: an IVR controller for community policing that drives a real Asterisk."""

__version__ = "0.1.0"
