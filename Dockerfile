# syntax=docker/dockerfile:1
# Atendai's production image: `atendai serve` by default, `atendai worker` with another command.
# Build: docker build -t atendai .   (docker compose builds it for you; see docs/deployment.md)

ARG PYTHON_VERSION=3.12

# -- Build: install the project and its dependencies into a virtual environment ----------------------
FROM python:${PYTHON_VERSION}-slim AS build

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1

RUN python -m venv /opt/atendai
ENV PATH=/opt/atendai/bin:$PATH

WORKDIR /src
COPY pyproject.toml README.md ./
COPY kernel ./kernel
COPY plugins ./plugins
COPY webui ./webui
RUN pip install --upgrade pip \
    && pip install .

# Compile the translations into the installed packages (outside /src, so the installed copy is used).
WORKDIR /
RUN python -m kernel.i18n compile \
    && python -c "import kernel, pathlib, sys; sys.exit(0 if any(pathlib.Path(kernel.__file__).parent.rglob('*.mo')) else 1)"

# -- Runtime: the virtual environment only, run by an unprivileged user -------------------------------
FROM python:${PYTHON_VERSION}-slim AS runtime

ENV PATH=/opt/atendai/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    ATENDAI_HOST=0.0.0.0 \
    ATENDAI_PORT=8000 \
    ATENDAI_DATA_DIR=/var/lib/atendai

RUN groupadd --system --gid 10001 atendai \
    && useradd --system --uid 10001 --gid atendai --home-dir /var/lib/atendai --shell /usr/sbin/nologin atendai \
    && mkdir -p /var/lib/atendai \
    && chown atendai:atendai /var/lib/atendai

COPY --from=build /opt/atendai /opt/atendai

WORKDIR /var/lib/atendai
USER atendai

EXPOSE 8000

# Liveness of the web process; the worker's compose service replaces this check with its own.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4).status == 200 else 1)"]

CMD ["atendai", "serve", "--host", "0.0.0.0"]
