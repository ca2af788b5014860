/* rulescmd: the `ferry tproxy-rules` subcommand: prints the ruleset that
 * tproxy/rules.c writes, or checks, applies or removes it by running
 * nft and ip (docs/tproxy.md). */
#ifndef FERRY_RULESCMD_H
#define FERRY_RULESCMD_H

/* argv[0] is "tproxy-rules"; argv and its strings are borrowed.
 * Returns the process exit status: 0 done, 1 a step failed (what was
 * applied is undone), 2 bad usage. */
int tprules_main(int argc, char **argv);

#endif
