"""The local stack: every process of a federation on one machine, started and stopped in order."""
