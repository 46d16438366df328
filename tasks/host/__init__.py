"""What runs on a host: its role runtime, its line to the relay, and the roles themselves.

This package is the boundary a host operator reads: it imports neither Prefect, MLflow nor the
output store (tests/unit/tasks/test_host_boundary.py holds it to that). It reads the host's own
data, applies the host's own policy, and answers only over the connection the host opened.
The coordinator's side of roles (placing them, following them, storing what they send home)
is tasks/coordinator/.
"""
