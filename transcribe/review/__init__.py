"""Review before the audio goes: a person's corrections over the machine transcript.

``edits`` is the layer kept in session.json (plain records and pure functions); ``server`` is
the local web page that makes those edits while listening to the recording.
"""
