# syntax=docker/dockerfile:1
# The pipeline image: Airflow 3.3.0 (Python 3.11) with the helhed package and its pinned
# dependencies (constraints/pipeline.txt: cosmos, dbt-core/dbt-postgres, great-expectations ...),
# plus the `production` extra: the FAB auth manager (apache-airflow-providers-fab) with roles.
# Build context is the repository root (see docker-compose.yml).
#
# helhed is installed *editable* from /opt/helhed/src so that helhed.config.REPO_ROOT resolves to
# /opt/helhed, where docker-compose.yml mounts dags/, dbt_project/, expectations/, config/ and
# superset/assets - the same layout as the embedded demo in a checkout.
FROM apache/airflow:3.3.0-python3.11

USER root
RUN mkdir -p /opt/helhed/state /opt/helhed/data /opt/helhed/docker \
    && chown -R airflow:0 /opt/helhed \
    && chmod -R g+rwX /opt/helhed \
    && chmod g+s /opt/helhed/state /opt/helhed/data
USER airflow

COPY --chown=airflow:0 constraints/pipeline.txt /opt/helhed/constraints/pipeline.txt
COPY --chown=airflow:0 pyproject.toml /opt/helhed/pyproject.toml
COPY --chown=airflow:0 src /opt/helhed/src
RUN pip install --no-cache-dir \
        --constraint /opt/helhed/constraints/pipeline.txt \
        "apache-airflow==3.3.0" \
        --editable "/opt/helhed[production]" \
    && helhed --help > /dev/null \
    && python -c "import airflow.providers.fab.auth_manager.fab_auth_manager"

COPY --chown=airflow:0 docker/airflow-init.sh /opt/helhed/docker/airflow-init.sh

ENV HELHED_HOME=/opt/helhed/state \
    HELHED_DATA_DIR=/opt/helhed/data \
    AIRFLOW__CORE__DAGS_FOLDER=/opt/helhed/dags \
    AIRFLOW__CORE__LOAD_EXAMPLES=false
WORKDIR /opt/helhed
