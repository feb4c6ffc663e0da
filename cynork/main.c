/*
 * cynork: the cynode command-line client.  Everything happens in
 * cmd_main(); this file only sets up the process.
 */
#include <signal.h>
#include <stdlib.h>

#include "cynork.h"
#include "banned.h"

int
main(int argc, char **argv)
{
	signal(SIGPIPE, SIG_IGN);
	return cmd_main(argc, argv);
}
