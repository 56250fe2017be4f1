"""The files in examples/: the quickstart feeds, the crontab line (run for real, with its lock) and the Airflow DAG.

Airflow itself is not installed in CI (about 80 extra packages and 300 MB next to Beam), so the DAG is loaded against
a stub of the two Airflow names it uses; with Airflow installed, Airflow's own DagBag loads it instead."""
import fcntl
import importlib.util
import re
import shlex
import shutil
import subprocess
import sys
import types
from pathlib import Path

import pytest
from apache_beam.options.pipeline_options import PipelineOptions
from newsbeam.pipelines.options import NewsbeamOptions
from newsbeam.pipelines.progress_options import ProgressOptions

from newsbeam.sources import OPML, read_source
from newsbeam.urls import is_http_url

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"


def _ingest_options(args):
    """The options an `ingest` command line sets, parsed as the pipeline parses them (unknown flags fail)."""
    parsed = PipelineOptions(args)
    unknown = [a for a in parsed.get_all_options(retain_unknown_options=True) if a not in parsed.get_all_options()]
    assert not unknown, unknown
    return parsed.view_as(NewsbeamOptions), parsed.view_as(ProgressOptions)


def test_sample_feeds_are_an_opml_list_of_feed_urls():
    contents = read_source((EXAMPLES / "feeds.opml").read_bytes(), str(EXAMPLES / "feeds.opml"))
    assert contents.kind == OPML and contents.read and not contents.rejected
    assert len(contents.listed) >= 5 and all(is_http_url(url) for url in contents.listed)


def _cron_line():
    lines = [line for line in (EXAMPLES / "crontab").read_text().splitlines() if line and not line.startswith("#")]
    entries = [line for line in lines if not re.match(r"^[A-Z_]+=", line)]
    assert len(entries) == 1
    return entries[0]


def test_the_crontab_line_is_the_readmes_and_parses():
    line = _cron_line()
    assert line in (ROOT / "README.md").read_text()
    fields = line.split(None, 5)
    for field in fields[:5]:
        assert re.fullmatch(r"(\*|\d+)(-\d+)?(/\d+)?(,(\d+)(-\d+)?)*", field), field
    command = shlex.split(fields[5])
    assert command[command.index("flock"):command.index("flock") + 3] == ["flock", "-n", "/tmp/newsbeam-news.lock"]
    args = command[command.index("ingest") + 1:command.index(">>")]
    newsbeam, _ = _ingest_options(args)
    assert newsbeam.feeds == ["feeds.opml"] and newsbeam.output == "/data/news" and "@" in newsbeam.http_user_agent


@pytest.mark.skipif(shutil.which("flock") is None, reason="flock(1) is not installed")
def test_the_crontab_line_runs_and_its_lock_prevents_overlap(site, tmp_path):
    """The line as written, with its paths moved into tmp_path: a run, then a run while the lock is held."""
    (tmp_path / ".venv" / "bin").mkdir(parents=True)
    (tmp_path / ".venv" / "bin" / "newsbeam").symlink_to(Path(sys.executable).parent / "newsbeam")
    (tmp_path / "feeds.opml").write_text(
        f'<opml version="2.0"><body><outline xmlUrl="{site.url("/feeds/levant.rss")}"/></body></opml>')
    command = _cron_line().split(None, 5)[5]
    for old, new in (("/srv/newsbeam", tmp_path), ("/tmp/newsbeam-news.lock", tmp_path / "lock"),
                     ("/data/news", tmp_path / "news"), ("/var/log/newsbeam.log", tmp_path / "log")):
        command = command.replace(old, str(new))
    command = command.replace(  # faster, same path; the test site listens on 127.0.0.1
        "ingest ", "ingest --entities gazetteer --host-delay 0 --allow-private-addresses ", 1)
    done = subprocess.run(["/bin/sh", "-c", command], capture_output=True, text=True, timeout=300)
    log = (tmp_path / "log").read_text()
    assert done.returncode == 0, log
    assert re.search(r"progress: fetched \d+/\d+ .*\| done", log) and ": succeeded in " in log, log
    assert list((tmp_path / "news" / "articles").rglob("*.parquet"))
    with open(tmp_path / "lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # a run still in progress
        blocked = subprocess.run(["/bin/sh", "-c", command], capture_output=True, text=True, timeout=60)
    assert blocked.returncode == 1 and (tmp_path / "log").read_text() == log  # exited at once, wrote nothing
    assert len(list((tmp_path / "news" / "_runs").glob("*.json"))) == 1


class _StubDag:
    """What the DAG file uses of airflow.DAG: a context manager collecting its tasks."""

    current = None

    def __init__(self, dag_id, **kwargs):
        self.dag_id, self.kwargs, self.tasks = dag_id, kwargs, []

    def __enter__(self):
        _StubDag.current = self
        return self

    def __exit__(self, *exc):
        _StubDag.current = None


class _StubBashOperator:
    def __init__(self, task_id, bash_command, **kwargs):
        self.task_id, self.bash_command, self.kwargs = task_id, bash_command, kwargs
        _StubDag.current.tasks.append(self)


def _load_with_stub(monkeypatch):
    airflow = types.ModuleType("airflow")
    airflow.DAG = _StubDag
    bash = types.ModuleType("airflow.operators.bash")
    bash.BashOperator = _StubBashOperator
    for name, module in (("airflow", airflow), ("airflow.operators", types.ModuleType("airflow.operators")),
                         ("airflow.operators.bash", bash)):
        monkeypatch.setitem(sys.modules, name, module)
    spec = importlib.util.spec_from_file_location("newsbeam_example_dag", EXAMPLES / "airflow_dag.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # the Airflow 3 import fails on the stub, so the Airflow 2 path is taken
    dag = module.dag
    return dag.kwargs, {task.task_id: (task.bash_command, task.kwargs) for task in dag.tasks}


def _load_with_airflow():
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(EXAMPLES / "airflow_dag.py"))
    assert not bag.import_errors
    dag = bag.dags["newsbeam_ingest"]
    task = dag.get_task("ingest")
    return ({"max_active_runs": dag.max_active_runs, "catchup": dag.catchup},
            {"ingest": (task.bash_command, {"skip_on_exit_code": 4 if 4 in task.skip_on_exit_code else None})})


def test_the_airflow_dag_loads_and_runs_newsbeam_one_run_at_a_time(monkeypatch):
    if importlib.util.find_spec("airflow") is not None:  # pragma: no cover - Airflow is not in the test extra
        dag, tasks = _load_with_airflow()
    else:
        dag, tasks = _load_with_stub(monkeypatch)
    assert dag["max_active_runs"] == 1 and dag["catchup"] is False
    command, options = tasks["ingest"]
    assert options["skip_on_exit_code"] == 4  # no input is not a failure
    args = shlex.split(command.replace("{{ ts_nodash }}", "20261129T170000"))
    assert args[1] == "ingest"
    newsbeam, progress = _ingest_options(args[2:])
    assert newsbeam.run_id == "airflow-20261129T170000" and progress.progress == "log"
    assert re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}", newsbeam.run_id)
