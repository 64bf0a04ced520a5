# The Energy Tracker companion: JSON API, dashboard and reconciliation jobs.
FROM node:20-bookworm-slim AS frontend
WORKDIR /src
COPY package.json package-lock.json* ./
COPY scripts/build-frontend* ./scripts/
COPY companion/static ./companion/static
RUN if [ -x scripts/build-frontend ]; then scripts/build-frontend; fi

# Home Assistant's package_constraints.txt, of the HA version pinned in pyproject.toml's
# dev group, fetched the way scripts/bootstrap fetches it for the dev venv
# (tools/ha_constraints.py): the image's aiohttp and everything else HA pins resolve
# to the same versions as in development (tests/companion/test_dependencies.py).
FROM python:3.13-slim-bookworm AS constraints
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 XDG_CACHE_HOME=/src/cache
WORKDIR /src
COPY pyproject.toml ./
COPY tools/__init__.py tools/ha_constraints.py ./tools/
RUN ha_version=$(sed -n 's/^ *"homeassistant==\([0-9.]*\)".*/\1/p' pyproject.toml) \
 && test -n "$ha_version" \
 && cp "$(python -m tools.ha_constraints "$ha_version")" /src/constraints.txt

FROM python:3.13-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /app
COPY pyproject.toml README.md ./
COPY companion ./companion
# The HA-free core (schema, units, ILP, the QuestDB client) lives in the integration's folder.
COPY custom_components/energy_tracker/core ./custom_components/energy_tracker/core
COPY --from=frontend /src/companion/static ./companion/static
COPY --from=constraints /src/constraints.txt /tmp/ha-constraints.txt
# Installed as the dev venv is: uv, under Home Assistant's constraints.
RUN pip install -q -c /tmp/ha-constraints.txt uv \
 && uv pip install --system --no-cache -c /tmp/ha-constraints.txt . \
 && pip uninstall -q -y uv && rm /tmp/ha-constraints.txt \
 && useradd --system --uid 10001 companion
USER companion
ENV ENERGY_TRACKER_CORE_DIR=/app/custom_components/energy_tracker/core \
    ENERGY_TRACKER_HOST=0.0.0.0 \
    COMPANION_PORT=8099
EXPOSE 8099
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD python -c "import urllib.request,sys; urllib.request.urlopen('http://127.0.0.1:8099/api/status', timeout=4)" || exit 1
CMD ["python", "-m", "companion"]
