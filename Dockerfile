# syntax=docker/dockerfile:1
# lc-webhooks in a small image: built with the Rust toolchain, run from distroless (libc only,
# no shell), as a non-root user.
#   docker build -t lc-webhooks .
#   docker run -p 127.0.0.1:8080:8080 -e LC_ADMIN_TOKEN=change-me -v lcw-data:/home/nonroot/data lc-webhooks

FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
# The registry and target folders are cache mounts: a rebuild recompiles only what changed.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin lc-webhooks \
    && cp target/release/lc-webhooks /lc-webhooks \
    && mkdir -p /data

FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /lc-webhooks /usr/local/bin/lc-webhooks
# Owned by nonroot, so a volume mounted here starts writable (Docker copies the ownership).
COPY --from=build --chown=65532:65532 /data /home/nonroot/data
# uid 65532; the SQLite default lands in /home/nonroot/data (mount a volume there).
USER nonroot
WORKDIR /home/nonroot
# Listening beyond loopback needs LC_ADMIN_TOKEN: the service refuses to start without one.
ENV LC_LISTEN=0.0.0.0:8080
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
    CMD ["/usr/local/bin/lc-webhooks", "healthcheck", "--url", "http://127.0.0.1:8080/healthz"]
ENTRYPOINT ["/usr/local/bin/lc-webhooks"]
CMD ["serve"]
