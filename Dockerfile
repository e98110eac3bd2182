# Haven in a container: built from this tree, run as a non-root user on a small Debian image.
#   docker build -t haven .            (or: podman build -t haven .)
#   docker run -p 8080:8080 -v haven-data:/var/lib/haven haven
# Configuration is by HAVEN_* variables (config.toml.example lists every key); compose.yaml
# is a starting point with a reverse proxy's address trusted and ClamAV beside it.

FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked \
 && strip target/release/haven

FROM debian:bookworm-slim
# curl answers the health check; ca-certificates lets Haven reach SMTP, push and OAuth over TLS.
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates curl \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /var/lib/haven --shell /usr/sbin/nologin haven \
 && mkdir -p /var/lib/haven \
 && chown haven:haven /var/lib/haven
COPY --from=build /src/target/release/haven /usr/bin/haven
USER haven
ENV HAVEN_DATA__DIR=/var/lib/haven \
    HAVEN_SERVER__LISTEN=0.0.0.0:8080 \
    HAVEN_LOG__FORMAT=json
VOLUME /var/lib/haven
EXPOSE 8080
# /health is 200 only when the database and the scheduler are ready (see docs/runbooks.md).
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD curl -fsS http://127.0.0.1:8080/health > /dev/null || exit 1
# SIGTERM drains requests and background work (server.shutdown_timeout, 20 s).
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/bin/haven"]
CMD ["serve"]
