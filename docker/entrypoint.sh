#!/bin/sh
# The konvsync image's entrypoint: `docker run konvsync plan portal` runs
# konvsync; a command the image has (sh, bash, git...) runs as given, so a
# CI runner that starts its own shell in the image (GitLab's Docker
# executor does) works without overriding the entrypoint.
set -e
case "$(command -v -- "${1:-}" 2> /dev/null || true)" in
  /*) exec "$@" ;; # an executable on PATH (a builtin such as export is not)
esac
exec konvsync "$@"
