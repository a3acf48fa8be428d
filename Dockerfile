# The bot's image: IntentOps with its locked dependencies, run unprivileged on a read-only root filesystem.
#
# No package index is reachable from a build here, so scripts/image.sh prepares the context on the host:
# it builds IntentOps' wheel and installs it with requirements.lock into `site.tar` (from uv's cache), then
# builds this file on the runtime image (the local base image with git, see scripts/image.sh). Run it with
# the data directory as a volume, the one place it writes:
#
#   docker run --read-only -v intentops-data:/var/lib/intentops -p 127.0.0.1:8212:8212 \
#     -e INTENTOPS_WEBHOOK_SECRET=... -e GITHUB_TOKEN=... intentops-bot
ARG RUNTIME_IMAGE=intentops-runtime:bookworm
FROM ${RUNTIME_IMAGE}

RUN groupadd --system --gid 10001 intentops \
 && useradd --system --uid 10001 --gid 10001 --home-dir /var/lib/intentops --no-create-home intentops \
 && mkdir -p /var/lib/intentops \
 && chown 10001:10001 /var/lib/intentops \
 && chmod 700 /var/lib/intentops
ADD site.tar /opt/intentops/site/

ENV PYTHONPATH=/opt/intentops/site \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/var/lib/intentops \
    INTENTOPS_DATA_DIR=/var/lib/intentops \
    INTENTOPS_LOG_FORMAT=json
USER 10001:10001
WORKDIR /var/lib/intentops
VOLUME /var/lib/intentops
EXPOSE 8212
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
  CMD ["python3", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8212/healthz', timeout=2)"]
ENTRYPOINT ["python3", "-m", "bot.cli.main"]
CMD ["bot", "serve", "--host", "0.0.0.0", "--port", "8212"]
