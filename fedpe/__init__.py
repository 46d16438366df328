"""fedpe: a federated processing environment.

`import fedpe` stays light (no Prefect, Dask or MLflow): the SDK and the errors are all an API
user needs.
"""

__version__ = "0.1.0"
