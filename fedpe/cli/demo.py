"""`fedpe demo`: the richest tool on the demo hosts through run_deployment, with progress."""

from __future__ import annotations

import os

from fedpe.cli.app import console


def run_demo(stack, *, rounds: int) -> None:
    os.environ.update(stack.env())
    from prefect.deployments import run_deployment

    console.print(f"running [bold]health-check[/bold] on {', '.join(stack.hosts)} through run_deployment")
    flow_run = run_deployment("health-check/default", parameters={"hosts": stack.hosts}, poll_interval=0.5, timeout=300)
    result = flow_run.state.result()
    for host, report in result.reports.items():
        console.print(f"  {host}: healthy={report['healthy']} datasets={[d['name'] for d in report['datasets']]}")
    console.print(f"execution {flow_run.id}: {flow_run.state.name}; outputs in {result.outputs}")
