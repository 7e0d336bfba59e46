"""The ingest benchmark: `zoomhooks serve` against a hand-written baseline, under wrk."""
