"""zoomhooks benchmarks (bench/README.md); drivers run as `python -m bench.<name>.driver`."""
