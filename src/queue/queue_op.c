/*
 * queue_op.c - the names of the administrator's queue operations
 * (enum queue_op, queue_sched.h): "flush", "hold", "release", "delete",
 * "requeue", "delete-spam".
 *
 * One table, so that the words a command line or a control request uses
 * and the operation queue_sched_op() carries out cannot drift apart: the
 * control protocol (admin/admin_ctl_req.c) parses with queue_op_find(),
 * and the daemon names an operation with queue_op_name(). Pure: no I/O.
 */
#include <string.h>

#include "queue/queue_sched.h"

static const char *const op_names[] = {
	[QUEUE_OP_FLUSH] = "flush",	  [QUEUE_OP_HOLD] = "hold",	  [QUEUE_OP_RELEASE] = "release",
	[QUEUE_OP_DELETE] = "delete", [QUEUE_OP_REQUEUE] = "requeue", [QUEUE_OP_DELETE_SPAM] = "delete-spam",
};

const char *queue_op_name(enum queue_op op)
{
	return (size_t)op < sizeof op_names / sizeof op_names[0] ? op_names[op] : "?";
}

int queue_op_find(const char *name)
{
	for (size_t i = 0; i < sizeof op_names / sizeof op_names[0]; i++)
		if (strcmp(name, op_names[i]) == 0)
			return (int)i;
	return -1;
}
