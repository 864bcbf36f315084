"""Sessions and virtual users: the live-adjustable load over shared runners."""
