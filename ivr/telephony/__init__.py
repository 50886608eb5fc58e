"""The port the rest of Watchline calls for telephony, and its Asterisk implementation.

- :mod:`ivr.telephony.call`: the ``Call`` protocol a dialogue drives (play, collect,
  record, hang up) and its result types;
- :mod:`ivr.telephony.ari_call`: ``Call`` over ARI (Stasis);
- :mod:`ivr.telephony.scripted_call`: a fake ``Call`` for unit tests of dialogue logic;
- :mod:`ivr.telephony.dialer`: placing outbound calls over AMI and reading their fate;
- :mod:`ivr.telephony.dispatcher`: routing each ``StasisStart`` to its dialogue.
"""
