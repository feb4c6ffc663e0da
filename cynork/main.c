/*
 * cynork: the cynode command-line client.  Everything happens in
 * cmd_main(); this file only sets up the process.
 */
#include <langinfo.h>
#include <locale.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "cynork.h"
#include "banned.h"

int
main(int argc, char **argv)
{
	signal(SIGPIPE, SIG_IGN);
	/*
	 * Character classes only (numbers keep the C locale): the tables
	 * measure cells in characters.  Everything cynork prints from the
	 * server is UTF-8, so a locale that is not UTF-8 is replaced by C.UTF-8.
	 */
	if (!setlocale(LC_CTYPE, "") || strcmp(nl_langinfo(CODESET), "UTF-8") != 0)
		setlocale(LC_CTYPE, "C.UTF-8");
	return cmd_main(argc, argv);
}
