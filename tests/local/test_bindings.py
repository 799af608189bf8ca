"""The local runtime knows no pipeline: a second project runs on it through its own bindings."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import pytest

from stepline.definition import PROJECT_ROOT, load_deployed_stack
from stepline.errors import DefinitionError
from stepline.local.session import LocalSession

LOCAL_PACKAGE = PROJECT_ROOT / "stepline" / "local"

TEMPLATE = """\
AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Parameters:
  Stage:
    Type: String
Resources:
  InboxBucket:
    Type: AWS::S3::Bucket
    Properties:
      BucketName: !Sub tiny-inbox-${Stage}
  ShoutJob:
    Type: AWS::Glue::Job
    Properties:
      Name: !Sub tiny-shout-${Stage}
      Role: arn:aws:iam::123456789012:role/glue
      Command:
        Name: glueetl
        ScriptLocation: jobs/shout.py
      DefaultArguments:
        --bucket: !Ref InboxBucket
  WhisperJob:
    Type: AWS::Glue::Job
    Properties:
      Name: !Sub tiny-whisper-${Stage}
      Role: arn:aws:iam::123456789012:role/glue
      Command:
        Name: glueetl
        ScriptLocation: jobs/whisper.py
  ShoutStateMachine:
    Type: AWS::Serverless::StateMachine
    Properties:
      Name: !Sub tiny-shout-${Stage}
      Type: STANDARD
      DefinitionUri: shout.asl.json
      DefinitionSubstitutions:
        ShoutJobName: !Ref ShoutJob
        WhisperJobName: !Ref WhisperJob
"""

DEFINITION = {
    "QueryLanguage": "JSONata",
    "StartAt": "Shout the note",
    "States": {
        "Shout the note": {
            "Type": "Task",
            "Resource": "arn:aws:states:::glue:startJobRun.sync",
            "Arguments": {
                "JobName": "${ShoutJobName}",
                "Arguments": {"--key": "{% $states.input.key %}"},
            },
            "Output": "{% $states.result.JobRunState %}",
            "Next": "Which job?",
        },
        "Which job?": {
            "Type": "Choice",
            "Choices": [
                {
                    "Condition": "{% $states.context.Execution.Input.whisper = true %}",
                    "Next": "Whisper",
                }
            ],
            "Default": "Done",
        },
        "Whisper": {
            "Type": "Task",
            "Resource": "arn:aws:states:::glue:startJobRun.sync",
            "Arguments": {"JobName": "${WhisperJobName}"},
            "End": True,
        },
        "Done": {"Type": "Succeed"},
    },
}

BINDINGS = '''\
"""The tiny pipeline's local bindings: its one job upper-cases a note in the bucket."""

from stepline.local.bindings import GlueJobRun, LocalBindings

bindings = LocalBindings()


@bindings.glue_job("shout.py")
def shout(run: GlueJobRun) -> None:
    uri = f"s3://{run.arguments['bucket']}/{run.arguments['key']}"
    run.lake.pull(uri)
    source = run.lake.path_for(uri)
    target = source.with_name(source.name + ".shouted")
    target.write_text(source.read_text().upper())
    run.lake.push(uri + ".shouted")
'''


@pytest.fixture
def tiny_project(tmp_path: Path) -> Path:
    """A second pipeline: one bucket, two Glue jobs (one bound), one state machine."""
    root = tmp_path / "tiny"
    root.mkdir()
    (root / "template.yaml").write_text(TEMPLATE)
    (root / "samconfig.toml").write_text(
        'version = 0.1\n[dev.deploy.parameters]\nstack_name = "tiny-dev"\n'
        'parameter_overrides = "Stage=dev"\n'
    )
    (root / "shout.asl.json").write_text(json.dumps(DEFINITION))
    (root / "local_bindings.py").write_text(BINDINGS)
    return root


def test_a_second_pipeline_runs_locally_through_its_own_bindings(
    tiny_project: Path, tmp_path: Path
) -> None:
    """The tiny project's Glue job runs its bound function: the object comes back upper-cased."""
    with LocalSession("dev", workdir=tmp_path / "work", project_root=tiny_project) as env:
        s3 = env.client("s3")
        s3.put_object(Bucket="tiny-inbox-dev", Key="notes/a.txt", Body=b"hello")
        execution = env.stepfunctions.run_to_end("Shout", {"key": "notes/a.txt"})
        assert (execution.status, execution.output) == ("SUCCEEDED", "SUCCEEDED")
        body = s3.get_object(Bucket="tiny-inbox-dev", Key="notes/a.txt.shouted")["Body"].read()
    assert body == b"HELLO"


def test_a_job_without_a_binding_fails_naming_the_job_and_the_bindings_file(
    tiny_project: Path, tmp_path: Path
) -> None:
    """An unbound Glue job is States.Runtime: 'no local binding for Glue job X: register one'."""
    with LocalSession("dev", workdir=tmp_path / "work", project_root=tiny_project) as env:
        env.client("s3").put_object(Bucket="tiny-inbox-dev", Key="b.txt", Body=b"psst")
        execution = env.stepfunctions.run_to_end("Shout", {"key": "b.txt", "whisper": True})
    assert (execution.status, execution.error) == ("FAILED", "States.Runtime")
    assert (
        "no local binding for Glue job tiny-whisper-dev (script whisper.py): register one in "
        f"{tiny_project.resolve() / 'local_bindings.py'}"
    ) in str(execution.cause)


def test_a_custom_resource_without_a_binding_names_the_resource(tiny_project: Path) -> None:
    """!GetAtt of a custom resource nobody binds fails with the binding error, not a guess."""
    template = (tiny_project / "template.yaml").read_text()
    template = template.replace(
        "Resources:\n",
        "Resources:\n  Seed:\n    Type: Custom::Seed\n    Properties:\n      ServiceToken: x\n",
    ).replace("WhisperJobName: !Ref WhisperJob", "WhisperJobName: !GetAtt Seed.Value")
    (tiny_project / "template.yaml").write_text(template)
    with pytest.raises(
        DefinitionError,
        match=r"no local binding for custom resource Seed "
        r"\(Custom::Seed\): register one in .*local_bindings\.py",
    ):
        load_deployed_stack("dev", project_root=tiny_project)


def test_the_sales_pipeline_registers_its_custom_resource() -> None:
    """The EMR script URIs come from the project's Custom::PipelineAssets binding."""
    stack = load_deployed_stack("dev")
    uris = stack.machines["SalesPublishStateMachine"].substitutions
    assert re.fullmatch(
        r"s3://stepline-sales-dev-artifacts-123456789012-us-east-1/emr/[0-9a-f]{16}/"
        r"aggregate_sales\.py",
        uris["AggregateSalesScriptUri"],
    )


# ------------------------------------------------------------------ nothing of the pipeline

#: The sales pipeline's own names: its packages, jobs, tables, machines and ledger keys.
PIPELINE_NAMES = re.compile(
    r"(?i:sales|daily_|clean_|aggregate|glue_jobs|emr_jobs|publish_pipeline_assets|"
    r"PipelineAssets|RawBucket|DataLakeBucket|RunLedger|NotificationTopic|"
    r"CatalogDatabase|store_id|run_date|sale_date)|STORE#|DATE#|\bPUBLISH\b"
)
#: The pipeline's top-level packages (its Lambda code, Glue and EMR jobs, bindings).
PIPELINE_PACKAGES = {
    "glue_jobs",
    "emr_jobs",
    "functions",
    "sales_contract",
    "validate_sales_file",
    "publish_pipeline_assets",
    "local_bindings",
}


def _local_sources() -> list[Path]:
    return sorted(LOCAL_PACKAGE.rglob("*.py"))


@pytest.mark.parametrize("path", _local_sources(), ids=lambda p: str(p.relative_to(LOCAL_PACKAGE)))
def test_the_local_runtime_imports_nothing_of_the_pipeline(path: Path) -> None:
    """No module of stepline/local imports the pipeline's code (only the bindings reach it)."""
    imported = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            imported |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            imported.add(node.module.split(".")[0])
    assert imported & PIPELINE_PACKAGES == set()


@pytest.mark.parametrize("path", _local_sources(), ids=lambda p: str(p.relative_to(LOCAL_PACKAGE)))
def test_the_local_runtime_names_nothing_of_the_pipeline(path: Path) -> None:
    """No line of stepline/local, code or docstring, names the sales pipeline's things."""
    hits = [
        f"{number}: {line.strip()}"
        for number, line in enumerate(path.read_text().splitlines(), start=1)
        if PIPELINE_NAMES.search(line)
    ]
    assert hits == []


def test_the_name_check_would_see_a_pipeline_name() -> None:
    """The pattern above finds what it must find (a check that cannot fail proves nothing)."""
    samples = ["from emr_jobs import sales_lake", 'resources["RunLedgerTable"]', "STORE#"]
    samples.append("sk = PUBLISH")
    assert all(PIPELINE_NAMES.search(sample) for sample in samples)
    assert not PIPELINE_NAMES.search("sns:publish to the stack's topic")
