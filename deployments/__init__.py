"""Deployments of every tool (`<tool>/default`), their schedules, and the runner that serves them."""
