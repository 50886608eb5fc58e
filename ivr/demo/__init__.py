"""``ivr demo`` (``make demo``): the main job on embedded defaults, against a real Asterisk.

The demo is a sequence of acts (``ivr.demo.acts``) sharing one sandbox, one controller and
one fleet of rig phones; each act prints what happened and returns a pass/fail line for
the summary.
"""
