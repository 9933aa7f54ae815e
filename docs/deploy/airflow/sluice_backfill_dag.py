"""A sharded sluice backfill as an Airflow 2.x DAG (2.4 or later: `schedule`, mapped tasks).

Each weekly DAG run backfills its own week, one day per window, with SHARDS tasks at once:
task ``backfill_shard[i]`` runs ``sluice backfill FLOW --from <week start> --to <week end>
--window 1d --shard i/SHARDS --json``. With ``catchup=True`` Airflow walks history week by
week from ``start_date``; the hourly ``sluice run`` (cron, the Kubernetes CronJob, or
``sluice schedule``) keeps the recent days.

The workers need:

* ``sluice`` on their PATH (the image of docs/deploy/Dockerfile, or the binary installed);
* FLOW on their disk, at the same path on every worker, with ``[state] url`` set: ``--shard``
  needs the shared PostgreSQL state store, which also makes every day land once whichever
  worker or retry pulls it; and an object store destination with an absolute ``work_dir``;
* the flow's secrets in their environment (MIXPANEL_USERNAME, MIXPANEL_SECRET,
  SLUICE_STATE_PASSWORD, AWS_*), set where the worker starts, never in this file: the
  BashOperator passes the worker's environment on when ``env`` is not given.

Exit codes (README.md, "Exit codes") and what the tasks do with them:

* 0: done (a rerun of a done week writes nothing). The ``--json`` summary (one JSON object on
  stdout; logs go to stderr) is in the task's log.
* 5: a quota ran out (a daily or hourly budget); what was complete is committed, the summary
  says ``resume_at``. The task fails and is retried: ``retries`` with an exponential
  ``retry_delay`` from 30 min up to 12 h reach past a daily reset; each retry resumes.
* 1 (API, network, disk) and 4 (another run of this shard holds its lease): retried the same way.
* 2: invalid flow, mapping or command line. A BashOperator cannot tell exit codes apart for
  retries (``skip_on_exit_code`` only turns a code into "skipped", which would hide the
  error), so the flow is checked once first by ``check_flow`` with ``retries=0``: an invalid
  flow fails that task once and no shard starts. A 2 from a shard itself (a --from that is
  not over yet, a state that disagrees with the lake) is still retried: harmless, since
  nothing was requested or written, but pointless. docs/deploy/README.md shows the
  PythonOperator variant that fails such a task at once.
"""

from __future__ import annotations

import shlex
from datetime import timedelta

import pendulum
from airflow import DAG
from airflow.operators.bash import BashOperator

# The flow file, the same path on every worker.
FLOW = "/opt/sluice/flows/mixpanel-events.toml"
# Shards: task i runs `--shard i/SHARDS`. The vendor's quota is shared (each shard paces at
# 1/SHARDS of it), so shards buy parallel downloads and mapping, not more requests.
SHARDS = 4
# The binary, on the workers' PATH.
SLUICE = "sluice"


def check_command() -> str:
    """`sluice check`: the flow and its mapping set, offline, before any shard runs."""
    return f"{SLUICE} check {shlex.quote(FLOW)} --json"


def shard_command(shard: int) -> str:
    """`sluice backfill` of this DAG run's week, for one shard (Jinja renders the dates)."""
    return (
        f"{SLUICE} backfill {shlex.quote(FLOW)}"
        " --from {{ ds }} --to {{ macros.ds_add(ds, 6) }}"
        f" --window 1d --concurrency 1 --shard {shard}/{SHARDS} --json"
    )


default_args = {
    "owner": "data-platform",
    # exit codes 1, 4 and 5: retried at least 30 min, 1 h, 2 h, 4 h, 8 h, 12 h apart (Airflow
    # adds up to as much again, at most max_retry_delay): more than a day in all
    "retries": 6,
    "retry_delay": timedelta(minutes=30),
    "retry_exponential_backoff": True,
    "max_retry_delay": timedelta(hours=12),
    "execution_timeout": timedelta(hours=6),
}

with DAG(
    dag_id="sluice_mixpanel_backfill",
    description="sluice backfill of Mixpanel events, one week per run, in shards",
    schedule="@weekly",  # Sunday 00:00 UTC: each run's ds is the Sunday its week starts
    start_date=pendulum.datetime(2026, 1, 4, tz="UTC"),  # a Sunday
    catchup=True,
    # one week at a time: two weeks' shard i would share the shard's lease (exit 4) and the quota
    max_active_runs=1,
    default_args=default_args,
    tags=["sluice", "backfill"],
    doc_md=__doc__,
) as dag:
    check = BashOperator(
        task_id="check_flow",
        bash_command=check_command(),
        retries=0,  # exit 2 here: the flow is invalid, and a retry would say the same
    )

    # One mapped task per shard: backfill_shard[0] … backfill_shard[SHARDS - 1].
    shards = BashOperator.partial(
        task_id="backfill_shard",
        max_active_tis_per_dag=SHARDS,
    ).expand(bash_command=[shard_command(i) for i in range(SHARDS)])

    check >> shards
