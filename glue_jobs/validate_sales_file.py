"""Stepline's Glue validation job: "Validate the sales file" for a file too big for the Lambda.

The arrival state machine's "Validate the big sales file on Glue" state starts
this job (AWS Glue 5.0, Python 3.11) instead of invoking the validation Lambda
when the object's stored size is above the stack's threshold
(``LambdaValidationMaxBytes``, ``LambdaValidationMaxGzipBytes``), with::

    --sales_event <the S3 Object Created event, JSON> --run_id R
    --data_lake_bucket <lake> --max_reject_ratio 0.01
    --result_uri s3://<lake>/validated/_results/run=R.json

The validation runs in the driver, one Python process, exactly as in the
Lambda: :func:`validate_sales_file.job.run_validation_job` calls the Lambda's
own :func:`validate_sales_file.service.validate_event`, whose reader streams the
object and whose good rows stream back to S3 in multipart parts, so memory
stays bounded whatever the size; Spark is not used. The packages
``sales_contract`` and ``validate_sales_file`` arrive as one zip on
``--extra-py-files`` (published by ``Custom::PipelineAssets`` from the same
``functions/`` the Lambda is built from), their dependencies through
``--additional-python-modules`` at the versions of ``functions/requirements.txt``.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence

from sales_contract.allocator import keep_freed_buffers
from validate_sales_file.job import JOB_ARGUMENTS, ValidationJobArgs, run_validation_job


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point on Glue: resolve the ``--name value`` arguments and validate."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    # The driver's Python only validates: the scan reuses the memory it frees,
    # as in the Lambda (whose environment sets the same).
    keep_freed_buffers()
    import boto3
    from awsglue.utils import getResolvedOptions

    options = getResolvedOptions(list(sys.argv if argv is None else argv), list(JOB_ARGUMENTS))
    result = run_validation_job(ValidationJobArgs.from_options(options), boto3.client("s3"))
    logging.getLogger(__name__).info(
        "validated %s: accepted=%s rows=%d rejected=%d",
        result.source_uri,
        result.accepted,
        result.rows,
        result.rejected_rows,
    )


if __name__ == "__main__":
    main()
