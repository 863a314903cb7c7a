/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Saving a domain to a file and starting one from it (issue 7; docs/DESIGN.md, "Save and
 * restore").  A save pauses the vCPUs, freezes every device, writes the state and RAM
 * (common/savefile.h) and leaves the domain paused and frozen: vm_resume() thaws it (a
 * checkpoint), or the VMM ends.  A restore is a set-up path of vm_setup(): the same
 * devices are built from the command line, then the file's state is loaded into them.
 * Main thread only.
 */
#ifndef XENO_VMM_SNAPSHOT_H
#define XENO_VMM_SNAPSHOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct vm;

struct snapshot_result {
	uint64_t file_bytes;   /* the save file */
	uint64_t memory_bytes; /* of it, guest RAM data */
	uint64_t ms;           /* from the pause to the file's rename */
	bool was_paused;       /* the domain was paused before the save */
};

/*
 * Writes vm's state to path (as path + SAVEFILE_PARTIAL, renamed when complete), with the
 * contents of meta_path (NULL: none; at most 1 MiB) as section "domain".  On success the
 * domain stays paused; on failure no file is left and it runs again if it ran before.
 * 0, or -errno with a message in err.
 */
int snapshot_save(struct vm *vm, const char *path, const char *meta_path,
                  struct snapshot_result *ret, char *err, size_t errlen)
        __attribute__((warn_unused_result));

/* vm_setup() stages of a restore (cfg->restore_path): each returns 0 or -errno, logged. */
int snapshot_open(struct vm *vm);        /* before memory: checks the file against cfg */
int snapshot_load_memory(struct vm *vm); /* after memory is reserved */
int snapshot_load_state(struct vm *vm);  /* after the vCPUs are created */
void snapshot_close(struct vm *vm);

#endif
