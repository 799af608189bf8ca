"""What runs locally for the sales pipeline's jobs (see ``stepline.local.bindings``).

The local runtime runs the pipeline's Lambda handlers from ``template.yaml``
and its SQL on DuckDB by itself; this module tells it the rest:

* the Glue job ``glue_jobs/clean_sales.py`` runs :func:`glue_jobs.clean_sales.run`
  on local PySpark;
* the Glue job ``glue_jobs/validate_sales_file.py`` (the arrival's route for a
  file too big for the validation Lambda) runs
  :func:`validate_sales_file.job.run_validation_job`, the same code the Glue job
  runs, on moto S3;
* the EMR step ``aggregate_sales.py`` runs :func:`emr_jobs.aggregate_sales.run`;
* ``Custom::PipelineAssets`` answers with the content-addressed script URIs
  its deployed handler (``functions/publish_pipeline_assets``) would publish.

Each binding pulls what its job reads from moto S3 into the local lake folder,
runs the job on local paths, and pushes what it wrote back to S3.
"""

from __future__ import annotations

import json
from pathlib import Path

from stepline.local.bindings import (
    CustomResourceRequest,
    CustomResourceResult,
    EmrStepRun,
    GlueJobRun,
    LocalBindings,
)

bindings = LocalBindings()


@bindings.glue_job("clean_sales.py")
def clean_sales_locally(run: GlueJobRun) -> None:
    """One arrival's clean job: the validated files in, its store-day generation out."""
    from emr_jobs import sales_lake
    from glue_jobs import clean_sales

    arguments = run.arguments
    run.lake.pull(arguments["validated_prefix"])
    lake_root = sales_lake.as_prefix(arguments["lake_root"])
    clean_args = clean_sales.CleanArgs.from_options(
        {
            **arguments,
            "validated_prefix": run.lake.local_uri(arguments["validated_prefix"]),
            "lake_root": run.lake.local_uri(lake_root),
        }
    )
    clean_sales.run(run.spark(), clean_args, write_metrics=run.write_json)
    day = (arguments["run_date"], arguments["store_id"], arguments["run_id"])
    run.lake.push(lake_root + sales_lake.clean_run_key(*day))
    run.lake.push(lake_root + sales_lake.clean_metrics_key(*day))


@bindings.glue_job("validate_sales_file.py")
def validate_sales_file_locally(run: GlueJobRun) -> None:
    """A big file's validation: the Lambda's code, reading and writing moto S3 as on Glue."""
    import boto3
    from validate_sales_file.job import ValidationJobArgs, run_validation_job

    run_validation_job(ValidationJobArgs.from_options(run.arguments), boto3.client("s3"))


@bindings.emr_step("aggregate_sales.py")
def aggregate_sales_locally(run: EmrStepRun) -> None:
    """One publish pass: the manifest's generations in, the curated day and summary out."""
    from emr_jobs import aggregate_sales, sales_lake

    job_args = aggregate_sales.parse_args(run.arguments)
    lake = run.lake
    lake_root = sales_lake.as_prefix(job_args.lake_root)
    # The manifest names s3:// generations; Spark reads their local copies.
    lake.pull(job_args.manifest)
    manifest = sales_lake.Manifest.from_json(
        json.loads(lake.path_for(job_args.manifest).read_text())
    )
    for store_day in manifest.store_days:
        lake.pull(sales_lake.as_prefix(store_day.clean_uri))
    aggregate_sales.run(
        run.spark(),
        job_args.manifest,
        lake.local_uri(lake_root),
        read_text=lambda uri: lake.path_for(uri).read_text(),
        write_text=run.write_text,
        resolve_uri=lambda uri: lake.local_uri(sales_lake.as_prefix(uri)),
    )
    lake.push(lake_root + sales_lake.curated_generation_key(manifest.run_date, manifest.publish))
    lake.push(lake_root + sales_lake.summary_key(manifest.run_date, manifest.publish))


@bindings.custom_resource("Custom::PipelineAssets")
def pipeline_assets(request: CustomResourceRequest) -> CustomResourceResult:
    """The deployed handler's answer, computed from the same files: the layer's scripts."""
    from publish_pipeline_assets.assets import (
        DEFAULT_KEY_PREFIX,
        discover_scripts,
        package_archive,
        script_uris,
    )

    properties = request.properties
    bucket = str(request.resolve(properties.get("ArtifactsBucket")))
    prefix = str(request.resolve(properties.get("KeyPrefix", DEFAULT_KEY_PREFIX))).strip("/")

    def layer_folder(property_name: str) -> Path:
        layer_ref = properties.get(property_name)
        if not (isinstance(layer_ref, dict) and "Ref" in layer_ref):
            raise ValueError(f"Custom::PipelineAssets {property_name} must be !Ref <layer>")
        content_uri = request.resource(layer_ref["Ref"]).get("Properties", {}).get("ContentUri")
        if not isinstance(content_uri, str):
            raise ValueError(f"layer {layer_ref['Ref']} has no local ContentUri")
        return request.project_root / content_uri

    scripts = discover_scripts(layer_folder("ScriptsLayerArn"))
    if "ValidatorPackagesLayerArn" in properties:
        scripts.append(package_archive(layer_folder("ValidatorPackagesLayerArn")))
    return CustomResourceResult(
        physical_id=f"s3://{bucket}/{prefix}/",
        attributes=script_uris(scripts, bucket, prefix),
    )
