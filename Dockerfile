# syntax=docker/dockerfile:1
# zoomhooks: one image for every role. The entry point is `zoomhooks`; the command picks the role:
#   migrate | web --host 0.0.0.0 --port 8000 (default) | worker [--no-sweeper] | sweep [--loop]
# No secret is baked in: configuration comes from the environment at run time (README table).
# See docs/deployment.md.

# Exact patch release of the base image; bump it deliberately (and pin its digest in your
# registry mirror if you have one).
ARG PYTHON_IMAGE=python:3.11.17-slim-bookworm

# ---- builder: build the wheel, install it with the locked dependencies into /opt/zoomhooks ----
FROM ${PYTHON_IMAGE} AS builder

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_ROOT_USER_ACTION=ignore \
    PYTHONDONTWRITEBYTECODE=1

WORKDIR /src
# Only what the wheel is built from (.dockerignore keeps everything else out of the context).
COPY pyproject.toml README.md ./
COPY service/ service/
COPY migrations/ migrations/
COPY deploy/image/ deploy/image/

# The same script tests/deploy/test_packaging.py runs: wheel, venv, hash-locked dependencies,
# then `pip check`. The venv lives at the same path in both stages, so it can be copied as is.
RUN sh deploy/image/install /src /opt/zoomhooks /tmp/wheels

# ---- runtime: the base image plus the venv, run by an unprivileged user ----
FROM ${PYTHON_IMAGE}

LABEL org.opencontainers.image.title="zoomhooks" \
      org.opencontainers.image.description="Verified Zoom webhooks into a durable inbox, and the Zoom API follow-up work they hint at."

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PATH=/opt/zoomhooks/bin:$PATH

# A fixed numeric uid/gid, so that Kubernetes' runAsNonRoot can verify it.
RUN groupadd --system --gid 10001 zoomhooks \
 && useradd --system --uid 10001 --gid 10001 --no-log-init \
        --home-dir /nonexistent --no-create-home --shell /usr/sbin/nologin zoomhooks \
 && mkdir -p /app/data \
 && chown 10001:10001 /app/data

COPY --from=builder /opt/zoomhooks /opt/zoomhooks
COPY deploy/image/healthcheck.py /opt/zoomhooks/healthcheck.py

# The working directory holds nothing the roles need: the root filesystem can be read-only.
# /app/data is only for the embedded `serve` (SQLite); mount a volume there if you use it.
WORKDIR /app
USER 10001:10001
# 8000: webhooks and /healthz (the public port). 9100: /metrics, /readyz, /livez (the ops
# port; for Prometheus and the orchestrator only, never behind the public proxy).
EXPOSE 8000 9100

# Liveness of the HTTP roles (web, serve) on port 8000, with the stdlib (slim has no curl).
# Other roles override or disable it (deploy/compose.yaml); Kubernetes ignores it.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "/opt/zoomhooks/healthcheck.py", "http://127.0.0.1:8000/healthz"]

ENTRYPOINT ["zoomhooks"]
CMD ["web", "--host", "0.0.0.0", "--port", "8000"]
