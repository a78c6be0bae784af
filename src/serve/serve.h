/*
 * serve.h — `capgate serve`: run a capability's adapters on the engine's worker loops.
 */
#ifndef CG_SERVE_H
#define CG_SERVE_H

/* The subcommand: capgate serve [OPTIONS] [FILE]. Returns the process exit status. */
int cg_serve_main(int argc, char **argv);

#endif
