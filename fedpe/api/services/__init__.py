"""The API's service layer: Prefect, the Dask scheduler and the store, behind plain methods.

Route handlers stay a few lines: they call one service function and return its result.
"""
