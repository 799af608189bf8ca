"""The "Validate the sales file" Lambda of the Stepline sales pipeline.

Handler: ``validate_sales_file.app.lambda_handler``. Settings (environment):
``DATA_LAKE_BUCKET`` and ``MAX_REJECT_RATIO``. The contract it enforces lives
in :mod:`sales_contract`.
"""
