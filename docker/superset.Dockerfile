# syntax=docker/dockerfile:1
# The dashboard image: Superset 6.1.0 plus the PostgreSQL driver, the Redis cache pin
# (Flask-Caching==2.3.1, see superset/constraints.txt) and helhed's superset_config.py.
# Build context is the repository root (see docker-compose.yml).
FROM apache/superset:6.1.0

USER root
COPY superset/constraints.txt /app/helhed/superset-constraints.txt
# Superset >= 4.1 images keep their packages in /app/.venv and ship uv; fall back to pip otherwise.
RUN set -eux; \
    if [ -f /app/.venv/bin/activate ]; then . /app/.venv/bin/activate; fi; \
    if command -v uv > /dev/null; then \
        uv pip install --no-cache --constraint /app/helhed/superset-constraints.txt \
            psycopg2-binary "Flask-Caching==2.3.1" redis; \
    else \
        python -m pip --version > /dev/null 2>&1 || python -m ensurepip --upgrade; \
        python -m pip install --no-cache-dir --constraint /app/helhed/superset-constraints.txt \
            psycopg2-binary "Flask-Caching==2.3.1" redis; \
    fi; \
    python -c "import psycopg2, flask_caching, redis"

COPY superset/superset_config.py /app/pythonpath/superset_config.py
COPY docker/superset-init.sh /app/helhed/superset-init.sh
COPY src/helhed/superset/_superset_init.py /app/helhed/superset_init.py
RUN chmod 0755 /app/helhed/superset-init.sh \
    && chown -R superset:superset /app/helhed /app/pythonpath/superset_config.py

ENV SUPERSET_CONFIG_PATH=/app/pythonpath/superset_config.py \
    SUPERSET_PORT=8088
USER superset
