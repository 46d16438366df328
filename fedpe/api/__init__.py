"""The fedpe REST API (FastAPI), served by `fedpe up` under /api/v1."""
