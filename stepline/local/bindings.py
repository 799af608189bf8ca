"""What runs locally for the pipeline's jobs: bindings the pipeline registers.

The local runtime knows no pipeline. Which Python runs for a Glue job, for an
EMR step, and what a deploy-time custom resource answers, is declared by the
project in one module next to ``template.yaml``, :data:`BINDINGS_FILE`
(``local_bindings.py``), which builds a :class:`LocalBindings` named
``bindings``::

    from stepline.local.bindings import GlueJobRun, LocalBindings

    bindings = LocalBindings()

    @bindings.glue_job("tidy_orders.py")           # the job's Command.ScriptLocation file name
    def tidy_orders(run: GlueJobRun) -> None:
        run.lake.pull(run.arguments["source"])
        ...                                          # run the job's logic on run.spark()
        run.lake.push(run.arguments["target"])

* ``glue_job(script)``: a ``glue:startJobRun`` of a job whose script file is
  ``script`` calls the function with a :class:`GlueJobRun`;
* ``emr_step(script)``: an ``elasticmapreduce:addStep`` whose ``spark-submit``
  arguments name ``.../script`` calls it with an :class:`EmrStepRun` (the
  arguments after the script);
* ``custom_resource(type)``: a ``Custom::...`` resource of that type gets its
  physical id and ``!GetAtt`` attributes from the function, given a
  :class:`CustomResourceRequest` (what CloudFormation would send the
  deployed handler).

Redshift Data and Athena need no binding: the SQL is the definition's, it runs
on DuckDB (:mod:`stepline.local.warehouse`), and Athena's tables are the
template's ``AWS::Glue::Table`` resources.

A binding returns nothing or raises: the runtime turns the call into the
service's response (a Glue ``JobRun``, an EMR step) and an exception into the
job failing (``States.TaskFailed``). A job with no binding fails its Task with
``States.Runtime``: ``no local binding for Glue job X (script s.py): register
one in <root>/local_bindings.py``.

Importing this module is cheap (no moto, no Spark); :func:`load_bindings`
imports the project's module once per file.
"""

from __future__ import annotations

import functools
import importlib.util
import json
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from stepline.local.lake import LocalLake

#: The module, next to ``template.yaml``, that holds a project's bindings.
BINDINGS_FILE = "local_bindings.py"

_F = TypeVar("_F", bound=Callable[..., Any])


class MissingBindingError(LookupError):
    """The pipeline registers nothing to run this job locally."""


def _spark() -> SparkSession:
    # Looked up at call time, so a test can stand in for Spark.
    from stepline.local import spark

    return spark.local_spark()


@dataclass
class JobRun:
    """What every job binding gets: the lake folder mirroring S3, and Spark on demand."""

    lake: LocalLake
    spark: Callable[[], SparkSession] = field(default=_spark)

    @staticmethod
    def write_json(path: str, document: Mapping[str, Any]) -> None:
        """Write a JSON document at a local path (push its prefix to put it in S3)."""
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(document))

    @staticmethod
    def write_text(path: str, text: str) -> None:
        """Write text at a local path (push its prefix to put it in S3)."""
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)


@dataclass
class GlueJobRun(JobRun):
    """One ``glue:startJobRun``: the job (its spec in the stack) and its arguments."""

    job: Any = None
    #: ``Arguments`` of the call over the job's ``DefaultArguments``, without the leading ``--``.
    arguments: dict[str, str] = field(default_factory=dict)


@dataclass
class EmrStepRun(JobRun):
    """One ``addStep``: the script's arguments (what follows it on the command line)."""

    step: Mapping[str, Any] = field(default_factory=dict)
    arguments: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class CustomResourceRequest:
    """A deploy-time custom resource, as the template declares it for the stage."""

    logical_id: str
    resource_type: str
    #: The resource's ``Properties`` as written (resolve values with ``resolve``).
    properties: Mapping[str, Any]
    resolve: Callable[[Any], Any]
    #: Another resource of the template by logical id, as written.
    resource: Callable[[str], Mapping[str, Any]]
    project_root: Path


@dataclass(frozen=True)
class CustomResourceResult:
    """What the deployed handler would answer CloudFormation with."""

    physical_id: str
    attributes: Mapping[str, str]


GlueBinding = Callable[[GlueJobRun], object]
EmrBinding = Callable[[EmrStepRun], object]
CustomResourceBinding = Callable[[CustomResourceRequest], CustomResourceResult]


class LocalBindings:
    """The registry: script names and resource types to the callables that run them locally."""

    def __init__(self, source: str = BINDINGS_FILE) -> None:
        #: Where the bindings were registered, for error messages.
        self.source = source
        self._glue: dict[str, GlueBinding] = {}
        self._emr: dict[str, EmrBinding] = {}
        self._custom: dict[str, CustomResourceBinding] = {}

    # -- registering ----------------------------------------------------------

    def glue_job(self, script: str) -> Callable[[_F], _F]:
        """Register what runs for a Glue job whose script file is named ``script``."""
        return self._register(self._glue, _file_name(script), "Glue job script")

    def emr_step(self, script: str) -> Callable[[_F], _F]:
        """Register what runs for an EMR step that submits ``script``."""
        return self._register(self._emr, _file_name(script), "EMR step script")

    def custom_resource(self, resource_type: str) -> Callable[[_F], _F]:
        """Register what a ``Custom::...`` resource of ``resource_type`` answers at deploy time."""
        return self._register(self._custom, resource_type, "custom resource type")

    @staticmethod
    def _register(table: dict[str, Any], key: str, kind: str) -> Callable[[_F], _F]:
        def register(function: _F) -> _F:
            if key in table:
                raise ValueError(f"{kind} {key} is bound twice")
            table[key] = function
            return function

        return register

    # -- looking up -------------------------------------------------------------

    def for_glue_job(self, job_name: str, script_path: str | Path) -> GlueBinding:
        """The binding of a Glue job, by its script's file name."""
        script = _file_name(script_path)
        try:
            return self._glue[script]
        except KeyError:
            raise MissingBindingError(
                f"no local binding for Glue job {job_name} (script {script}): "
                f"register one in {self.source}"
            ) from None

    def for_emr_step(self, step_name: str, args: list[str]) -> tuple[EmrBinding, list[str]]:
        """The binding of an EMR step and the script's arguments, from its command line."""
        for index, arg in enumerate(args):
            binding = self._emr.get(_file_name(arg))
            if binding is not None:
                return binding, args[index + 1 :]
        raise MissingBindingError(
            f"no local binding for EMR step {step_name} ({' '.join(args)}): "
            f"register one in {self.source}"
        )

    def for_custom_resource(self, logical_id: str, resource_type: str) -> CustomResourceBinding:
        try:
            return self._custom[resource_type]
        except KeyError:
            raise MissingBindingError(
                f"no local binding for custom resource {logical_id} ({resource_type}): "
                f"register one in {self.source}"
            ) from None

    def has_custom_resource(self, resource_type: str) -> bool:
        return resource_type in self._custom


def _file_name(path: str | Path) -> str:
    return str(path).rstrip("/").rsplit("/", 1)[-1]


def load_bindings(project_root: Path) -> LocalBindings:
    """The ``bindings`` of ``<project_root>/local_bindings.py`` (empty if there is no such file)."""
    return _load(Path(project_root).resolve() / BINDINGS_FILE)


@functools.cache
def _load(path: Path) -> LocalBindings:
    if not path.is_file():
        return LocalBindings(str(path))
    # A name of its own per file: two projects' bindings never share a module.
    name = f"_stepline_bindings_{abs(hash(str(path))):x}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(name, None)
        raise
    bindings = getattr(module, "bindings", None)
    if not isinstance(bindings, LocalBindings):
        raise TypeError(f"{path} must define `bindings = LocalBindings()`")
    bindings.source = str(path)
    return bindings


__all__ = [
    "BINDINGS_FILE",
    "CustomResourceRequest",
    "CustomResourceResult",
    "EmrStepRun",
    "GlueJobRun",
    "JobRun",
    "LocalBindings",
    "MissingBindingError",
    "load_bindings",
]
