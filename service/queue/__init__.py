"""Dramatiq: the broker, the actors, the workers and the sweeper that feeds them."""
