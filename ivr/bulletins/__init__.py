"""Bulletins: the recorded (or typed) message a campaign delivers."""
