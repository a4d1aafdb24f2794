# Debian 12 image for the servers that have no upstream image of their own here (ngIRCd, InspIRCd) and
# for creating the test certificates: the same Debian packages that compose/up installs.
FROM debian:bookworm-slim
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ngircd inspircd openssl \
 && rm -rf /var/lib/apt/lists/*
