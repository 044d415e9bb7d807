#!/bin/sh
# Start the Claystream service named by $SERVICE (annotate | ingest | trainer | monitor | predict) under uvicorn.
# predict is the trainer package's second app factory: stateless predict replicas (docs/SCALING.md).
# One process per container: scale with replicas, not workers. Extra arguments go to uvicorn.
set -eu
case "${SERVICE:-}" in
  annotate) default_port=8000 ;;
  ingest) default_port=8001 ;;
  trainer) default_port=8002 ;;
  monitor) default_port=8003 ;;
  predict) default_port=8004 ;;
  *)
    echo "claystream-entrypoint: SERVICE must be one of annotate, ingest, trainer, monitor, predict (got '${SERVICE:-}')" >&2
    exit 64
    ;;
esac
factory="claystream_${SERVICE}.main:create_app"
if [ "$SERVICE" = predict ]; then factory="claystream_trainer.predict_main:create_app"; fi
exec uvicorn --factory "$factory" \
  --host "${HOST:-0.0.0.0}" --port "${PORT:-$default_port}" \
  --no-access-log --proxy-headers --forwarded-allow-ips "${FORWARDED_ALLOW_IPS:-127.0.0.1}" \
  --timeout-graceful-shutdown "${GRACEFUL_SHUTDOWN_S:-20}" "$@"
