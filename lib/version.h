/* The version of all three programs and the API version they speak. */
#ifndef CY_VERSION_H
#define CY_VERSION_H

#define CYNODE_VERSION "0.1.0"
#define CYNODE_API_VERSION "1"

#endif
