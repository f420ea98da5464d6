# eventbusd in a container: built on debian:bookworm with the packages of
# scripts/packages.txt (the same list the README's commands install), run on
# debian:bookworm-slim with only the runtime libraries, as a non-root user.
# The image holds the daemon and the `eventbus` CLI (health checks, and
# publish/subscribe from `docker exec` or a second container).
#
#   docker build -t eventbusd .
#   docker run --rm -p 50051:50051 -e EVENTBUS_SERVER_ADDRESS=0.0.0.0:50051 eventbusd
#
# Config: /etc/eventbus/eventbus.yaml (mount your own over it); EVENTBUS_*
# variables override it. The default address is 127.0.0.1:50051, right for a
# sidecar sharing the pod's network namespace; set EVENTBUS_SERVER_ADDRESS to
# publish the port outside the container.
#
# HEALTHCHECK runs `eventbus health` inside the container, against
# $EVENTBUS_SERVER or else 127.0.0.1:50051, which reaches the daemon on the
# default address and on 0.0.0.0:50051 alike. When eventbusd listens
# elsewhere (another port, unix:PATH), set EVENTBUS_SERVER to match. With
# server.tls on, set EVENTBUS_CA_FILE (and, when client certificates are
# required, EVENTBUS_CERT_FILE and EVENTBUS_KEY_FILE) in the container so
# the check speaks TLS, and EVENTBUS_SERVER to a name the server's
# certificate carries (e.g. localhost:50051). Health needs no token.

FROM debian:bookworm AS build
WORKDIR /src
COPY scripts/install-deps scripts/packages.txt scripts/
RUN scripts/install-deps && rm -rf /var/lib/apt/lists/*
COPY CMakeLists.txt ./
COPY proto proto
COPY base base
COPY server server
COPY client client
RUN cmake -S . -B /build -G Ninja -DCMAKE_BUILD_TYPE=Release \
      -DEVENTBUS_BUILD_TESTS=OFF -DEVENTBUS_BUILD_BENCH=OFF \
 && cmake --build /build --target eventbusd eventbus \
 && strip /build/server/eventbusd /build/client/eventbus

FROM debian:bookworm-slim
COPY scripts/install-deps scripts/packages.txt /tmp/deps/
RUN /tmp/deps/install-deps --runtime \
 && rm -rf /var/lib/apt/lists/* /tmp/deps \
 && useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin eventbus \
 && install -d -o 10001 -g 10001 -m 0750 /var/lib/eventbus
COPY --from=build /build/server/eventbusd /usr/local/bin/eventbusd
COPY --from=build /build/client/eventbus /usr/local/bin/eventbus
COPY config/eventbus.yaml /etc/eventbus/eventbus.yaml
USER 10001:10001
# Writable by the eventbus user: where a subscriber container can write its
# JSON lines (deploy/docker-compose.yaml mounts a volume here).
WORKDIR /var/lib/eventbus
EXPOSE 50051
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 \
  CMD ["/usr/local/bin/eventbus", "--timeout", "2s", "health"]
ENTRYPOINT ["/usr/local/bin/eventbusd", "--config", "/etc/eventbus/eventbus.yaml"]
