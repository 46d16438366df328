"""The host side of fedpe: the agent plugin every host worker runs, and `fedpe host start`."""
