/*
 * The operator's JSON view of a node (route-nodes.c), shared by the node
 * list/get routes and the operator actions that answer with the node.
 */
#ifndef SERVER_NODES_H
#define SERVER_NODES_H

#include <jansson.h>
#include <libpq-fe.h>

/* One row of store_nodes_view() as a new JSON object. */
json_t *nodes_view_json(const PGresult *res, int row);

#endif
