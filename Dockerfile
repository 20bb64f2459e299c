# The gateway image: the package and its dependencies, run as an unprivileged user.
# Build: docker build -t analytics-gateway:0.1.0 .

# The web UI (dashboards, offline GraphiQL), built with npm into the package.
FROM node:20-slim AS ui
WORKDIR /src
COPY frontend/package.json frontend/package-lock.json ./frontend/
RUN npm ci --prefix frontend --no-audit --no-fund
COPY frontend ./frontend
RUN npm run build --prefix frontend

FROM python:3.11-slim

ENV PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    ANALYTICS_DATA_DIR=/var/lib/analytics-gateway

# A fixed numeric uid/gid, so Kubernetes' runAsNonRoot can verify it.
RUN groupadd --system --gid 10001 gateway \
    && useradd --system --uid 10001 --gid gateway --no-create-home \
       --home-dir /nonexistent --shell /usr/sbin/nologin gateway \
    && mkdir -p /var/lib/analytics-gateway/models \
    && chown -R gateway:gateway /var/lib/analytics-gateway

WORKDIR /src
# The locked versions, hash-checked, in a layer of their own (rebuilt only when the lock changes).
COPY requirements/runtime.txt ./requirements/
RUN pip install --require-hashes -r requirements/runtime.txt
COPY pyproject.toml README.md ./
COPY analytics_gateway ./analytics_gateway
COPY --from=ui /src/analytics_gateway/web/dist ./analytics_gateway/web/dist
RUN pip install --no-deps --no-build-isolation . && rm -rf /src

WORKDIR /var/lib/analytics-gateway
USER 10001:10001

EXPOSE 8000
# Liveness only: /readyz is for load balancers, a store outage must not restart the container.
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
    CMD python -c "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('ANALYTICS_PORT', '8000'), timeout=2)"

ENTRYPOINT ["analytics-gateway", "serve", "--host", "0.0.0.0"]
