/*
 * ctl_json.c - JSON strings for the commands' --json output (jansson):
 * whatever the bytes (8-bit header fields, alias files in another charset),
 * the output is valid JSON.
 */
#include "ctl/ctl_int.h"

#include <string.h>

#include "admin/admin_ctl.h"

json_t *ctl_json_str(const char *s, size_t n)
{
	return admin_json_str(s, n);
}

json_t *ctl_json_z(const char *s)
{
	return ctl_json_str(s ? s : "", s ? strlen(s) : 0);
}

