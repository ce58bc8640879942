/* target.h — where guest RAM comes from (target.c): files, ELF cores,
 * QEMU's RAM layout, /proc/kcore.
 */
#ifndef GPUFAS_TARGET_H
#define GPUFAS_TARGET_H

#include "core.h"

struct gf_target {
	char spec[256];
	char path[256];      /* the file mapped (vm:, dump:), else empty */
	int fd;
	uint8_t *map;
	uint64_t map_size;
	int writable;
	struct gf_mem mem;
	char error[512];     /* why target_open() failed */
	char read_only[320]; /* why a target asked for writing is not */
	char *vmcoreinfo;    /* the VMCOREINFO text it carries (kcore's note), or NULL */
};

int target_open(struct gf_target *t, const char *spec, int want_write);
/* vm:PATH[,machine=pc|q35][,lowmem=BYTES][,qmp=SOCKET][,vmstate=NODE] in
 * its parts: GF_OK, or GF_EINVAL with err. */
struct gf_vm_spec {
	char path[256];
	char machine[8];
	uint64_t lowmem;   /* 0: from the machine type */
	char qmp[108];     /* QEMU's QMP socket (snapshot.c), or empty */
	char vmstate[48];  /* the qcow2 node for device state, or empty */
};
int target_vm_spec(const char *spec, struct gf_vm_spec *vs, char *err,
		   size_t errlen);
void target_close(struct gf_target *t);
uint64_t target_ram_size(const struct gf_target *t);
int target_replaced(const struct gf_target *t);

#endif
