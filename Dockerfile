# One image for every role: `dashboard run` by default (the one-container case), or
# `python -m dashboard web|worker|migrate` as compose.yaml runs it.

# Front-end libraries, pinned by package-lock.json, copied into static/vendor.
FROM node:20-bookworm-slim AS assets
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund --loglevel=error
COPY static/build-assets.mjs static/
RUN node static/build-assets.mjs

# Python dependencies from the lock; the project itself runs from /app (templates/ and static/
# sit beside the package, so it is not installed into site-packages).
FROM python:3.11-slim-bookworm AS python-deps
WORKDIR /src
RUN python -m venv /opt/venv
COPY requirements.lock pyproject.toml README.md ./
COPY dashboard ./dashboard
RUN /opt/venv/bin/pip install --no-cache-dir --constraint requirements.lock . \
 && /opt/venv/bin/pip uninstall --yes dashboard

FROM python:3.11-slim-bookworm
RUN useradd --create-home --uid 10001 dashboard \
 && mkdir -p /data && chown dashboard /data
COPY --from=python-deps /opt/venv /opt/venv
WORKDIR /app
COPY dashboard ./dashboard
COPY templates ./templates
COPY static ./static
COPY --from=assets /src/static/vendor ./static/vendor
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONPATH=/app \
    PYTHONUNBUFFERED=1 \
    DASHBOARD_STATE_DIR=/data \
    HOST=0.0.0.0 \
    PORT=8000
USER 10001
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=3s --start-period=30s --retries=3 \
  CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen(f'http://127.0.0.1:{os.environ.get(\"PORT\", \"8000\")}/healthz', timeout=2)"]
CMD ["python", "-m", "dashboard", "run"]
