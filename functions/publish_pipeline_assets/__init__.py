"""Custom resource ``Custom::PipelineAssets``: publishes the EMR job scripts at deploy time.

CloudFormation packaging uploads no arbitrary files, so ``emr_jobs/`` reaches the
account as a Lambda layer and this function copies each script to a content-addressed
key of the artifacts bucket (see :mod:`publish_pipeline_assets.assets`). It uses only
the standard library and boto3 (part of the Lambda runtime) so that nothing it imports
can keep it from answering CloudFormation.
"""
