# The Energy Tracker companion: JSON API, dashboard and reconciliation jobs.
FROM node:20-bookworm-slim AS frontend
WORKDIR /src
COPY package.json package-lock.json* ./
COPY scripts/build-frontend* ./scripts/
COPY companion/static ./companion/static
RUN if [ -x scripts/build-frontend ]; then scripts/build-frontend; fi

FROM python:3.13-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
COPY pyproject.toml README.md ./
COPY companion ./companion
# The schema and unit rules are defined once, in the integration's folder.
COPY custom_components/energy_tracker/schema.py custom_components/energy_tracker/units.py ./custom_components/energy_tracker/
COPY --from=frontend /src/companion/static ./companion/static
RUN pip install . && useradd --system --uid 10001 companion
USER companion
ENV ENERGY_TRACKER_SHARED_DIR=/app/custom_components/energy_tracker \
    ENERGY_TRACKER_HOST=0.0.0.0 \
    COMPANION_PORT=8099
EXPOSE 8099
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD python -c "import urllib.request,sys; urllib.request.urlopen('http://127.0.0.1:8099/api/status', timeout=4)" || exit 1
CMD ["python", "-m", "companion"]
