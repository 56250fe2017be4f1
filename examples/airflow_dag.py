"""newsbeam every 15 minutes from Airflow (2.x or 3.x). Copy into your DAG folder and adjust the paths.

newsbeam runs in its own virtual environment (Airflow and Apache Beam pin conflicting dependencies), so the task
calls its command line. Exit codes: 0 ok; 4 (no input: every source failed or was empty) marks the task skipped;
anything else fails it (1 pipeline failed, 2 usage / output locked / damaged state, 3 accounting mismatch).
"""
from datetime import datetime, timedelta

from airflow import DAG

try:  # Airflow 3 moved the operator into the 'standard' provider
    from airflow.providers.standard.operators.bash import BashOperator
except ImportError:  # Airflow 2
    from airflow.operators.bash import BashOperator

NEWSBEAM = "/srv/newsbeam/.venv/bin/newsbeam"
FEEDS = "/srv/newsbeam/feeds.opml"
OUTPUT = "/data/news"

with DAG(
    dag_id="newsbeam_ingest",
    schedule=timedelta(minutes=15),
    start_date=datetime(2026, 1, 1),
    catchup=False,  # a missed interval is covered by the next run: each run fetches whatever is new
    max_active_runs=1,  # runs against one output folder must not overlap
    tags=["newsbeam"],
) as dag:
    BashOperator(
        task_id="ingest",
        # The run id follows the DAG run, so an Airflow retry replaces that run's files instead of adding to them.
        bash_command=(
            f"{NEWSBEAM} ingest --feeds {FEEDS} --output {OUTPUT} --run-id airflow-{{{{ ts_nodash }}}} "
            "--user-agent 'newsbeam (+mailto:ops@example.org)' --progress log"
        ),
        skip_on_exit_code=4,
        retries=1,
        retry_delay=timedelta(minutes=5),
        execution_timeout=timedelta(minutes=60),
    )
