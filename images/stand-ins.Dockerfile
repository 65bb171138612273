# Local stand-ins for the public images docker-compose.elk.yml runs, for the container tests and `npm run
# demo:docker` on machines that cannot pull them (images/build.js builds them; images/stand-ins.compose.yml swaps
# them in). Each builds on the same Debian base as sidekick's images.
# Build context: a directory holding engine/ (the Maven-built test engine: classes/ and lib/*.jar).
ARG NODE_IMAGE=node:24-bookworm-slim

# For busybox:1.36, the demo app: Debian's busybox, every applet first on PATH (sh, date, httpd), run as root.
FROM ${NODE_IMAGE} AS app
RUN apt-get update && apt-get install -y --no-install-recommends busybox && rm -rf /var/lib/apt/lists/* \
 && mkdir -p /usr/local/busybox && busybox --install -s /usr/local/busybox
ENV PATH=/usr/local/busybox:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
CMD ["sh"]

# For haproxy:2.8: Debian's HAProxy (2.6) set up as the official image is: configuration in /usr/local/etc/haproxy,
# the non-root user haproxy in /var/lib/haproxy, master-worker in the foreground, SIGUSR1 for a graceful stop.
FROM ${NODE_IMAGE} AS haproxy
RUN apt-get update && apt-get install -y --no-install-recommends haproxy && rm -rf /var/lib/apt/lists/* \
 && mkdir -p /usr/local/etc/haproxy /var/lib/haproxy && chown haproxy:haproxy /var/lib/haproxy
USER haproxy
WORKDIR /var/lib/haproxy
STOPSIGNAL SIGUSR1
CMD ["haproxy", "-W", "-db", "-f", "/usr/local/etc/haproxy/haproxy.cfg"]

# For Elasticsearch 8.19: OpenSearch 2.19, the Maven-built test engine (test/engine), on Debian's JRE, answering
# on port 9200 of the container's address, with curl for the compose file's healthcheck. Last: the other targets
# do not wait for the JRE.
FROM ${NODE_IMAGE} AS opensearch
RUN mkdir -p /usr/share/man/man1 && apt-get update \
 && apt-get install -y --no-install-recommends openjdk-17-jre-headless curl && rm -rf /var/lib/apt/lists/*
COPY engine /opt/engine
USER node
EXPOSE 9200
CMD ["java", "-Xms512m", "-Xmx768m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-Djava.awt.headless=true", \
     "-Dopensearch.set.netty.runtime.available.processors=false", "-Dsidekick.engine.http.host=0.0.0.0", \
     "-cp", "/opt/engine/classes:/opt/engine/lib/*", "sidekick.engine.EmbeddedOpenSearch", "--port", "9200"]
