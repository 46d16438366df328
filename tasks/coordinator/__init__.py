"""The coordinator's side of roles: placing them on hosts as Prefect tasks over Dask
(remote.py), following them over the relay, storing what they send home and reporting rounds
to Prefect, MLflow and the store (reporter.py), and the execution's control flags (control.py).
What runs on the hosts themselves is tasks/host/.
"""
