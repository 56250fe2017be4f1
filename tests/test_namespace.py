"""The root folders install as `newsbeam.pipelines`, `newsbeam.transforms` and `newsbeam.schemas`: a module of the
same short name on the user's sys.path (an Airflow DAG folder) must not shadow them."""
import subprocess
import sys


def test_module_entry_point_ignores_colliding_names_in_the_working_directory(tmp_path):
    (tmp_path / "schemas.py").write_text("raise ImportError('the user schemas.py was imported')\n")
    (tmp_path / "pipelines").mkdir()
    (tmp_path / "pipelines" / "__init__.py").write_text("raise ImportError('the user pipelines/ was imported')\n")
    (tmp_path / "transforms.py").write_text("raise ImportError('the user transforms.py was imported')\n")
    done = subprocess.run([sys.executable, "-m", "newsbeam.pipelines.ingest", "--help"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "--output" in done.stdout
    # the user's modules are still importable by their own names beside newsbeam's
    probe = ("import newsbeam.schemas.records, newsbeam.transforms.core, newsbeam.pipelines.cli\n"
             "import importlib; importlib.import_module('schemas')\n")
    done = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert "the user schemas.py was imported" in done.stderr


def test_every_module_lives_under_the_newsbeam_namespace():
    import newsbeam.pipelines
    import newsbeam.schemas
    import newsbeam.transforms

    for package in (newsbeam.pipelines, newsbeam.schemas, newsbeam.transforms):
        assert package.__name__.startswith("newsbeam.")
