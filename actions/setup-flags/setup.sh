#!/usr/bin/env bash
# The work of the setup-flags action, testable without GitHub: writes the
# snapshot of INPUT_SCENARIO and appends FEATURE_FLAGS_OFFLINE_FILE (and
# FEATURE_FLAGS_SCENARIO) to $GITHUB_ENV, the file through which a step
# exports variables to the next ones. The file's path is also written to
# $GITHUB_OUTPUT as `file` when that is set.
#
# Inputs (environment): INPUT_SCENARIO (required), INPUT_ENVIRONMENT
# (default production), INPUT_URL + INPUT_TOKEN (read a running service) or
# INPUT_FROM (flag files; default feature-flags/flags or
# feature-flags/export.yaml under the workspace). FEATURE_FLAGS_BIN names
# the binary (default: feature-flags on PATH).
set -euo pipefail

scenario="${INPUT_SCENARIO:?the scenario input is required (all_flags_off, all_flags_on, production_flags)}"
environment="${INPUT_ENVIRONMENT:-production}"
workspace="${GITHUB_WORKSPACE:-$PWD}"
out_dir="${RUNNER_TEMP:-${TMPDIR:-/tmp}}"
out="$out_dir/feature-flags-$scenario.json"
bin="${FEATURE_FLAGS_BIN:-feature-flags}"

args=(snapshot --scenario "$scenario" --environment "$environment" --out "$out")
if [ -n "${INPUT_URL:-}" ]; then
  args+=(--url "$INPUT_URL")
  if [ -n "${INPUT_TOKEN:-}" ]; then
    export FEATURE_FLAGS_TOKEN="$INPUT_TOKEN"
  fi
else
  from="${INPUT_FROM:-}"
  if [ -z "$from" ]; then
    for candidate in "$workspace/feature-flags/flags" "$workspace/feature-flags/export.yaml"; do
      if [ -e "$candidate" ]; then
        from="$candidate"
        break
      fi
    done
  fi
  if [ -z "$from" ]; then
    echo "setup-flags: no flags to read: give the url input, or from, or commit feature-flags/flags/ (flag files) or feature-flags/export.yaml (feature-flags export)" >&2
    exit 1
  fi
  args+=(--from "$from")
fi

"$bin" "${args[@]}"
echo "FEATURE_FLAGS_OFFLINE_FILE=$out" >> "${GITHUB_ENV:?GITHUB_ENV is not set}"
echo "FEATURE_FLAGS_SCENARIO=$scenario" >> "$GITHUB_ENV"
if [ -n "${GITHUB_OUTPUT:-}" ]; then
  echo "file=$out" >> "$GITHUB_OUTPUT"
fi
echo "setup-flags: $scenario -> $out"
