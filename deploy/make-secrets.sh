#!/bin/sh
# Create the Compose stack's secret files once, with random passwords and keys:
#   influxdb_admin_password, influxdb_gateway_password, analytics_metrics_url,
#   analytics_encryption_keys (the keyring that seals channel URLs and secrets).
# Existing files are kept, because InfluxDB reads its passwords only when it first
# initialises its volume (and the keyring must outlive what it sealed). On Kubernetes,
# analytics_metrics_url and analytics_encryption_keys are the files to make the Secret from (docs/deployment.md, "Kubernetes"). Usage: deploy/make-secrets.sh [directory]
set -eu

dir="${1:-$(dirname "$0")/secrets}"
mkdir -p "$dir"
# Other host users cannot enter the folder; the files themselves stay readable so
# the gateway's unprivileged uid can read them through Compose's bind mounts.
chmod 700 "$dir"

random_hex() {
    head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n'
}

write_once() {
    if [ ! -e "$dir/$1" ]; then
        printf '%s\n' "$2" >"$dir/$1"
        chmod 644 "$dir/$1"
    fi
}

write_once influxdb_admin_password "$(random_hex)"
write_once influxdb_gateway_password "$(random_hex)"
# The user and database match INFLUXDB_USER and INFLUXDB_DB in docker-compose.yml.
write_once analytics_metrics_url \
    "influxdb://gateway:$(cat "$dir/influxdb_gateway_password")@influxdb:8086/analytics"
# One AES-256 key, active; `analytics-gateway crypto rotate` documents adding the next.
write_once analytics_encryption_keys \
    "{\"active\": \"k1\", \"keys\": {\"k1\": \"$(head -c 32 /dev/urandom | base64)\"}}"
echo "secrets in $dir"
