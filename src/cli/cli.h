/*
 * cli.h — the spec-inspection subcommands: validate, tools, routes.
 *
 * Each takes argv as main() passes it (argv[0] is the subcommand), prints to stdout on
 * success and to stderr on failure, and returns the process exit code: 0 success,
 * 1 invalid spec, 2 usage error.
 */
#ifndef CG_CLI_H
#define CG_CLI_H

/* The capability served when no file is given. */
#define CG_DEFAULT_SPEC "capabilities/label-studio-ml.yaml"

int cg_cli_validate_main(int argc, char **argv);
int cg_cli_tools_main(int argc, char **argv);
int cg_cli_routes_main(int argc, char **argv);

#endif
