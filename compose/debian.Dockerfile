# Debian 12 image for the servers that have no upstream image of their own here (ngIRCd, InspIRCd, Atheme) and
# for creating the test certificates: the same Debian packages that compose/up installs.
FROM debian:bookworm-slim
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ngircd inspircd atheme-services openssl \
 && rm -rf /var/lib/apt/lists/*
