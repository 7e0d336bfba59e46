"""The follow-up benchmark: the participants follow-up against a raw executemany upsert."""
