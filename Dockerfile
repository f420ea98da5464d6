# eventbusd in a container: built on debian:bookworm with the packages of
# scripts/packages.txt (the same list the README's commands install), run on
# debian:bookworm-slim with only the runtime libraries, as a non-root user.
#
#   docker build -t eventbusd .
#   docker run --rm -p 50051:50051 -e EVENTBUS_SERVER_ADDRESS=0.0.0.0:50051 eventbusd
#
# Config: /etc/eventbus/eventbus.yaml (mount your own over it); EVENTBUS_*
# variables override it. The default address is 127.0.0.1:50051, right for a
# sidecar sharing the pod's network namespace; set EVENTBUS_SERVER_ADDRESS to
# publish the port outside the container.

FROM debian:bookworm AS build
WORKDIR /src
COPY scripts/install-deps scripts/packages.txt scripts/
RUN scripts/install-deps && rm -rf /var/lib/apt/lists/*
COPY CMakeLists.txt ./
COPY proto proto
COPY server server
RUN cmake -S . -B /build -G Ninja -DCMAKE_BUILD_TYPE=Release \
      -DEVENTBUS_BUILD_TESTS=OFF \
 && cmake --build /build --target eventbusd \
 && strip /build/server/eventbusd

FROM debian:bookworm-slim
COPY scripts/install-deps scripts/packages.txt /tmp/deps/
RUN /tmp/deps/install-deps --runtime \
 && rm -rf /var/lib/apt/lists/* /tmp/deps \
 && useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin eventbus
COPY --from=build /build/server/eventbusd /usr/local/bin/eventbusd
COPY config/eventbus.yaml /etc/eventbus/eventbus.yaml
USER 10001:10001
EXPOSE 50051
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/eventbusd", "--config", "/etc/eventbus/eventbus.yaml"]
