"""IVR dialogues: what a caller hears and what their keys and words do."""
