"""Domain work between the edges: ingesting a delivery, processing an inbox row."""
