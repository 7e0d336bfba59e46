"""Developer tools shipped with zoomhooks: not used by the service in production."""
