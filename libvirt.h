/* libvirt.h — a running libvirt domain's RAM file, for target.c's
 * libvirt:NAME (libvirt.c). */
#ifndef GPUFAS_LIBVIRT_H
#define GPUFAS_LIBVIRT_H

#include <stddef.h>

struct libvirt_ram {
	char path[256];  /* the file its QEMU maps shared as the guest's RAM */
	char machine[8]; /* "pc" or "q35": target.c's RAM layout for it */
};

/* GF_OK with *ram for the active domain `name` of qemu:///system; else a
 * GF_E* (GF_ENOLIB: no libvirt client library) and err holds why, in one
 * line (with what to add to the domain's XML when its RAM is not a shared
 * file). Waits a few seconds at most. */
int libvirt_find_ram(const char *name, struct libvirt_ram *ram, char *err,
		     size_t errlen);

#endif
