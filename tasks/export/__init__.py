"""The final model in its library's own format, so a researcher loads it without fedpe.

- `preparation.py`: the federated preparation (imputation, one-hot, scaling) as a
  scikit-learn transformer over raw columns; it imports nothing of fedpe's and is pickled by
  value, so the registered model carries its code.
- `estimators.py`: scikit-learn estimators rebuilt from the federated state (linear weights,
  forest node tables), checked against fedpe's own predictor before they are logged.
- `boosted.py`: the booster with the preparation in front, as an MLflow pyfunc that needs
  xgboost but not fedpe (the xgboost flavour itself holds a bare booster).
- `signature.py`: the raw columns' schema from the preparation plan, never from records.
"""
