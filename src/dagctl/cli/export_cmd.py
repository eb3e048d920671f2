"""``dagctl export argo DAG.yaml``: a DAG as an Argo Workflow, WorkflowTemplate or CronWorkflow manifest."""

from __future__ import annotations

import enum
import os
from pathlib import Path

import typer

from .conventions import Group
from .schedule_common import DEFAULT_DIR, DIR_HELP

EXPORT_HELP = """Turn a DAG into a manifest for another engine.

\b
Example:
  dagctl export argo configs/dags/diamond_pipeline.yaml | kubectl create -f -
"""


class Kind(str, enum.Enum):
    WORKFLOW = "workflow"
    WORKFLOW_TEMPLATE = "workflow-template"


def register(app: typer.Typer) -> None:
    group = typer.Typer(
        cls=Group,
        help=EXPORT_HELP,
        rich_markup_mode=None,
        add_completion=False,
        no_args_is_help=True,
        context_settings={"help_option_names": ["-h", "--help"]},
    )

    @group.command("argo")
    def argo(
        dag: Path | None = typer.Argument(None, help="The DAG file (optional with --schedule: the schedule's DAG)."),
        param: list[str] = typer.Option([], "--param", "-p", help="Override a DAG param: -p key=value (repeatable)."),
        image: str | None = typer.Option(
            None,
            "--image",
            help="Image the steps run in: dagctl installed, the DAG's folder at the same relative path.",
        ),
        namespace: str | None = typer.Option(None, "--namespace", help="metadata.namespace of the manifest."),
        namespace_n: str | None = typer.Option(None, "-n", hidden=True),  # kubectl's short form: -n is --limit here
        name_prefix: str = typer.Option("", "--name-prefix", help="Put this before the DAG's (or schedule's) name."),
        kind: Kind = typer.Option(Kind.WORKFLOW, "--kind", help="workflow or workflow-template."),
        schedule: str | None = typer.Option(
            None, "--schedule", help="Export this schedule (from --dir) as a CronWorkflow of its DAG."
        ),
        directory: Path = typer.Option(DEFAULT_DIR, "--dir", "-d", help=DIR_HELP),
        pvc: str | None = typer.Option(
            None, "--pvc", help="PersistentVolumeClaim mounted in every step for run folders, so steps share files."
        ),
        queue_node_selector: bool = typer.Option(
            False, "--queue-node-selector", help="Also turn a task's queue: into nodeSelector dagctl.io/queue."
        ),
        secret_name: str = typer.Option(
            "dagctl-secrets",
            "--secret-name",
            metavar="NAME",
            help="Kubernetes Secret holding the values of secrets: {X: {from_env: KEY}}, under KEY.",
        ),
        output: Path | None = typer.Option(None, "--output", "-o", help="Write the manifest here (default: stdout)."),
    ) -> None:
        """Export a DAG as an Argo Workflow: each task a step running `dagctl exec-task` in --image.

        Matrices, loops, sub-DAGs, cached tasks and approval gates get templates of their own (fan-out and
        fan-in steps, a recursive template, a nested DAG, memoization, a suspend step).
        The manifest is loaded back through Hera's models of the Argo schema before it is printed. Notes on
        what Argo does differently go to stderr; what cannot be mapped is refused, naming the task and the
        key (exit 2). Needs the argo extra: pip install 'dagctl[argo]'. Mapping and limits: docs/argo.md.

        \b
        Examples:
          dagctl export argo configs/dags/diamond_pipeline.yaml --image registry.example.com/etl:1.4
          dagctl export argo configs/dags/diamond_pipeline.yaml -p rows=1000 -o diamond.yaml
          dagctl export argo --schedule diamond_nightly --namespace etl | kubectl apply -f -
          dagctl export argo configs/dags/diamond_pipeline.yaml --kind workflow-template --pvc runs
        """
        from dagctl.dag.loader import load_dag
        from dagctl.dag.params import parse_assignments
        from dagctl.dag.plan import build_plan
        from dagctl.errors import UsageError
        from dagctl.export.argo import DEFAULT_IMAGE, KINDS, ArgoOptions, export_plan
        from dagctl.export.hera_models import hera_class, to_yaml

        from .render import echo_err

        namespace_flag = "--namespace" if namespace is not None or namespace_n is None else "-n"
        namespace = namespace if namespace is not None else namespace_n
        _check_flags(image=image, namespace=(namespace_flag, namespace), pvc=pvc, secret_name=secret_name)
        cron = None
        if schedule is not None:
            from dagctl.export.cron import cron_settings
            from dagctl.schedule.files import ScheduleSource

            from .schedule_common import default_timezone, find_schedule

            if kind is not Kind.WORKFLOW:
                raise UsageError("--schedule exports a CronWorkflow", hint="leave out --kind")
            spec = find_schedule(ScheduleSource(directory, default_timezone=default_timezone()).load(), schedule)
            if dag is not None and dag.resolve() != spec.dag_path.resolve():
                raise UsageError(
                    f"schedule '{schedule}' runs {spec.dag}, not {dag}", hint="leave out the DAG file, or fix it"
                )
            dag = spec.dag_path
            cron = cron_settings(spec)
        if dag is None:
            raise UsageError("which DAG?", hint="give a DAG file, or --schedule ID")
        hera_class("Workflow")  # the extra is missing: say so before any work
        from .dagref import find_dag

        dag = Path(find_dag(str(dag)))  # a name: configs/dags/NAME.yaml of this project
        plan = build_plan(load_dag(dag))
        options = ArgoOptions(
            kind=KINDS[kind.value],
            image=DEFAULT_IMAGE if image is None else image,
            namespace=namespace,
            name_prefix=name_prefix,
            params=dict(parse_assignments(param)),
            dag_path=_image_path(dag),
            pvc=pvc,
            queue_node_selector=queue_node_selector,
            secret_name=secret_name,
        )
        exported = export_plan(plan, options, cron)
        text = to_yaml(exported.manifest)
        for note in exported.notes:
            echo_err(f"note: {note}")
        if output is None:
            typer.echo(text, nl=False)
            return
        from .ci_outputs import check_output, write_atomic

        check_output(output, "--output")  # its folder is made if missing, as for --junit
        write_atomic(output, text)  # a full disk or a kill leaves the old manifest, never half of one
        echo_err(f"wrote {exported.manifest['kind']} to {output}")

    app.add_typer(group, name="export")


def _check_flags(
    *, image: str | None, namespace: tuple[str, str | None], pvc: str | None, secret_name: str | None
) -> None:
    """Refuse a flag value Kubernetes (or the image pull) would refuse, naming the flag, the value and the rule."""
    from dagctl.errors import UsageError
    from dagctl.export.names import is_dns_label, is_dns_subdomain

    flag, value = namespace
    if value is not None and not is_dns_label(value):
        raise UsageError(
            f"{flag} {value!r} is not a Kubernetes namespace name",
            hint="a namespace is a DNS-1123 label: at most 63 lowercase letters, digits and '-', "
            "starting and ending with a letter or digit",
        )
    for flag, value in (("--pvc", pvc), ("--secret-name", secret_name)):
        if value is not None and not is_dns_subdomain(value):
            raise UsageError(
                f"{flag} {value!r} is not a Kubernetes object name",
                hint="use a DNS-1123 subdomain: at most 253 lowercase letters, digits, '-' and '.', each part "
                "between dots starting and ending with a letter or digit",
            )
    if image is not None and (not image or any(c.isspace() for c in image)):
        raise UsageError(
            f"--image {image!r} is not an image reference",
            hint="give an image name without spaces, such as registry.example.com/etl:1.4 "
            "(leave out --image for dagctl:latest)",
        )


def _image_path(dag: Path) -> str:
    """The DAG file as the image sees it: relative to this directory when it is inside it (the image is
    expected to hold the project at its working directory), else as given."""
    absolute = dag.resolve()
    try:
        return absolute.relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return os.fspath(dag)
