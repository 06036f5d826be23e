# The production worker: `agent-runner worker` in MODE=cloud.
#
#   docker build -t agent-runner .
#   docker run --env-file worker.env agent-runner
#
# Configuration comes from the environment (see README, "Running in production");
# the image holds no secret.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
COPY pyproject.toml README.md ./
COPY agent_runner ./agent_runner
COPY graphton ./graphton
RUN python -m venv /opt/venv && /opt/venv/bin/pip install --no-cache-dir . && rm -rf /app/build

# Never root: the worker runs agents' commands (in Daytona sandboxes in cloud mode,
# but the process itself needs no privilege either).
RUN useradd --create-home --uid 10001 --shell /usr/sbin/nologin runner
USER 10001
WORKDIR /home/runner

ENV PATH=/opt/venv/bin:$PATH \
    MODE=cloud \
    METRICS_PORT=9464
EXPOSE 9464

# /healthz answers 503 while Temporal or the backend cannot be reached.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('METRICS_PORT', '9464'), timeout=4)"]

# SIGTERM: stop polling, let running executions finish for
# WORKER_GRACEFUL_SHUTDOWN_SECONDS, then cancel the rest (they report CANCELLED).
STOPSIGNAL SIGTERM
ENTRYPOINT ["agent-runner"]
CMD ["worker"]
