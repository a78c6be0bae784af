#!/usr/bin/env bash
# tutorial.sh — the Naftiko reference engine's 11-step shipyard tutorial, end to end through
# real processes (tests/e2e/tutorial.mjs: capgate serve / mcp --stdio, the official MCP SDK
# client, a stub of the shipyard APIs). The tutorial's specs are read unchanged from the
# reference material beside the project (../shared/reference/naftiko/corpus); without it
# (a bare clone of this repository alone) the script says so and checks nothing.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/fixtures/mcp_env.bash"
TUTORIAL="$E2E_ROOT/../shared/reference/naftiko/corpus/naftiko-framework/src/main/resources/tutorial"
if [ ! -d "$TUTORIAL" ]; then
  echo "# skipped: $TUTORIAL is not here"
  exit 0
fi
mcp_need_node_modules || exit 1
cd "$E2E_ROOT/tests/e2e" && timeout 180 node tutorial.mjs "$CAPGATE" "$TUTORIAL"
