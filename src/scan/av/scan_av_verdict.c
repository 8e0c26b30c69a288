/*
 * scan_av_verdict.c - the anti-virus verdicts: their names, and what a
 * ClamAV finding name means (scan_av_classify, the rule in scan_av.h).
 *
 * Pure functions shared by the front (scan_av.c) and both back ends, so
 * that neither back end calls into the front. No state, no I/O.
 */
#include <string.h>

#include "scan/av/scan_av.h"

const char *scan_av_status_name(enum scan_av_status s)
{
	switch (s) {
	case SCAN_AV_CLEAN:
		return "clean";
	case SCAN_AV_INFECTED:
		return "infected";
	case SCAN_AV_UNSCANNABLE:
		return "unscannable";
	case SCAN_AV_ERROR:
		break;
	}
	return "error";
}

enum scan_av_status scan_av_classify(const char *virname)
{
	if (strncmp(virname, "Heuristics.Encrypted.", 21) == 0 ||
	    strncmp(virname, "Heuristics.Limits.Exceeded", 26) == 0)
		return SCAN_AV_UNSCANNABLE;
	return SCAN_AV_INFECTED;
}
