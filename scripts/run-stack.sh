#!/usr/bin/env bash
# make run: the whole stack on its embedded defaults.
# Until the gateway lands, this validates and describes the shipped capability.
set -euo pipefail
cd "$(dirname "$0")/.."
SPEC=capabilities/label-studio-ml.yaml
build/capgate validate "$SPEC"
echo
build/capgate routes "$SPEC"
echo
echo "MCP tools:"
build/capgate tools "$SPEC" | jq -r '.[] | "  \(.name)  \(.description)"'
