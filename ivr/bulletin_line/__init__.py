"""The coordinators' bulletin line (2000) and the members' replay line (2001).

Pure rules: ``lockout`` (PIN lockout), ``pins`` (PIN format and hashing), ``menus`` (menus as
data, group picking, the spoken summary). The desk the dialogues use: ``service`` (with
``signin``, ``drafts``, ``publish``), ``replay``; ``transcripts`` (speech recognition of
bulletins), ``bulletins`` (typed bulletins for the API), ``admin`` (coordinators, for the
CLI and the API). ``component`` puts them in the controller. The dialogues themselves are
``ivr/flows/bulletin_line.py``, ``bulletin_record.py`` and ``replay_line.py``.

For tests and the demo: ``testing``, ``rig_coordinator``, ``demo``.
"""
