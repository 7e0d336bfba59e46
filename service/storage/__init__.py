"""Storage: the engine, the tables, and the repositories that read and write them."""
